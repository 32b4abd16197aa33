package alice

import (
	"cmp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on goals.
const (
	MaxGoalDescriptionBytes = 4096
	MaxDelayReasonBytes     = 1024
	MinGoalDelay            = time.Minute
	MaxGoalDelay            = 12 * time.Hour
)

// GoalStatus is where a goal stands. The active goal is in_progress or
// paused; completed and timed_out goals are shown once, then gone.
type GoalStatus string

const (
	GoalInProgress GoalStatus = "in_progress"
	GoalPaused     GoalStatus = "paused"
	GoalCompleted  GoalStatus = "completed"
	GoalTimedOut   GoalStatus = "timed_out"
)

// Goal is a conversation's goal.
type Goal struct {
	ID          string     `json:"id"`
	Description string     `json:"description"`
	Status      GoalStatus `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// DeadlineAt is when the goal times out.
	DeadlineAt *time.Time `json:"deadline_at,omitempty"`
	// NextWakeAt is when the goal loop runs its next iteration; DelayReason
	// says why it waits, as the agent put it.
	NextWakeAt  *time.Time `json:"next_wake_at,omitempty"`
	DelayReason string     `json:"delay_reason,omitempty"`
	// What the goal loop has done.
	Iterations      int        `json:"iterations,omitempty"`
	LastIterationAt *time.Time `json:"last_iteration_at,omitempty"`
	LastError       string     `json:"last_error,omitempty"`
	PausedReason    string     `json:"paused_reason,omitempty"`
}

// GoalOp is one of the goal commands.
type GoalOp string

const (
	OpGet      GoalOp = "get"
	OpCreate   GoalOp = "create"
	OpPause    GoalOp = "pause"
	OpResume   GoalOp = "resume"
	OpComplete GoalOp = "complete"
	OpDelete   GoalOp = "delete"
	OpDelay    GoalOp = "delay"
	OpTimeOut  GoalOp = "time_out" // the deadline passed; the runtime's own
)

// GoalOps lists every goal command, for tables that must cover them all.
func GoalOps() []GoalOp {
	return []GoalOp{OpGet, OpCreate, OpPause, OpResume, OpComplete, OpDelete, OpDelay, OpTimeOut}
}

// GoalCommand asks a conversation to act on its goal.
type GoalCommand struct {
	Op          GoalOp
	Description string        // OpCreate
	DeadlineIn  time.Duration // OpCreate; 0: the bot's default
	Delay       time.Duration // OpDelay
	Reason      string        // OpDelay
}

// GoalRules are the bot settings a goal follows.
type GoalRules struct {
	DefaultDeadline time.Duration // 0: none
	// Loop is whether the goal loop runs iterations; a goal then wakes at
	// once when it is created or resumed.
	Loop bool
}

// ValidateGoalDescription applies the create rules to a description.
func ValidateGoalDescription(d string) error {
	switch {
	case strings.TrimSpace(d) == "":
		return Errorf(EInvalid, "description (or objective) is required and must not be blank")
	case len(d) > MaxGoalDescriptionBytes:
		return Errorf(EInvalid, "description is longer than %d bytes", MaxGoalDescriptionBytes)
	case !utf8.ValidString(d):
		return Errorf(EInvalid, "description is not valid UTF-8")
	}
	return nil
}

// CheckDelay applies the rules of POST /goal/delay.
func CheckDelay(d time.Duration, reason string) error {
	switch {
	case d != 0 && (d < MinGoalDelay || d > MaxGoalDelay):
		return Errorf(EInvalid, "duration %s must be 0s, or from 1m to 12h", d)
	case strings.TrimSpace(reason) == "":
		return Errorf(EInvalid, "reason is required: say what the goal waits for, or what it does next")
	case len(reason) > MaxDelayReasonBytes:
		return Errorf(EInvalid, "reason is longer than %d bytes", MaxDelayReasonBytes)
	case !utf8.ValidString(reason):
		return Errorf(EInvalid, "reason is not valid UTF-8")
	}
	return nil
}

// ApplyGoal is the goal state machine. Given the conversation's active goal
// (nil when none), it returns the active goal afterwards and the goal to
// show the caller (nil for "nothing": GET with no goal, DELETE). It does not
// modify active. now stamps the change; newID is called only on create.
func ApplyGoal(active *Goal, cmd GoalCommand, rules GoalRules, now time.Time, newID func() string) (next, shown *Goal, err error) {
	now = now.UTC()
	switch cmd.Op {
	case OpGet:
		return active, active, nil
	case OpCreate:
		if active != nil {
			return active, nil, Errorf(EConflict, "an active goal already exists (%s, %s); complete or delete it first", active.ID, active.Status)
		}
		if err := ValidateGoalDescription(cmd.Description); err != nil {
			return nil, nil, err
		}
		if cmd.DeadlineIn < 0 {
			return nil, nil, Errorf(EInvalid, "deadline_in %s must be positive", cmd.DeadlineIn)
		}
		g := &Goal{ID: newID(), Description: cmd.Description, Status: GoalInProgress, CreatedAt: now, UpdatedAt: now}
		if d := cmp.Or(cmd.DeadlineIn, rules.DefaultDeadline); d > 0 {
			at := now.Add(d)
			g.DeadlineAt = &at
		}
		if rules.Loop {
			g.NextWakeAt = &now
		}
		return g, g, nil
	}
	if !cmd.Op.known() {
		return active, nil, Errorf(EInvalid, "unknown goal command %q", cmd.Op)
	}
	if active == nil {
		return nil, nil, Errorf(ENotFound, "no active goal")
	}
	g := *active
	g.UpdatedAt = now
	switch cmd.Op {
	case OpPause:
		if active.Status == GoalPaused {
			return active, nil, Errorf(EConflict, "goal is already paused")
		}
		g.Status, g.NextWakeAt = GoalPaused, nil
	case OpResume:
		if active.Status != GoalPaused {
			return active, nil, Errorf(EConflict, "goal is not paused (it is %s)", active.Status)
		}
		g.Status, g.PausedReason = GoalInProgress, ""
		if rules.Loop {
			g.NextWakeAt = &now
		}
	case OpDelay:
		if err := CheckDelay(cmd.Delay, cmd.Reason); err != nil {
			return active, nil, err
		}
		if active.Status == GoalPaused {
			return active, nil, Errorf(EConflict, "goal is paused; resume it first")
		}
		wake := now.Add(cmd.Delay)
		g.NextWakeAt, g.DelayReason = &wake, cmd.Reason
	case OpComplete:
		g.Status, g.CompletedAt, g.NextWakeAt = GoalCompleted, &now, nil
		return nil, &g, nil
	case OpTimeOut:
		g.Status, g.NextWakeAt = GoalTimedOut, nil
		return nil, &g, nil
	case OpDelete:
		return nil, nil, nil
	}
	return &g, &g, nil
}

func (op GoalOp) known() bool {
	for _, o := range GoalOps() {
		if o == op {
			return true
		}
	}
	return false
}

// FormatDuration writes d as people write it: 30m, 1h30m, 45s, not 30m0s.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
