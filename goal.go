package alice

import (
	"strings"
	"time"
	"unicode/utf8"
)

// MaxGoalDescriptionBytes bounds a goal's description.
const MaxGoalDescriptionBytes = 4096

// GoalStatus is where a goal stands. The active goal is in_progress or paused.
type GoalStatus string

const (
	GoalInProgress GoalStatus = "in_progress"
	GoalPaused     GoalStatus = "paused"
	GoalCompleted  GoalStatus = "completed"
)

// Goal is a conversation's goal.
type Goal struct {
	ID          string     `json:"id"`
	Description string     `json:"description"`
	Status      GoalStatus `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// DeadlineAt is when the goal times out; NextWakeAt when the goal loop
	// runs its next iteration.
	DeadlineAt *time.Time `json:"deadline_at,omitempty"`
	NextWakeAt *time.Time `json:"next_wake_at,omitempty"`
}

// Due is when the goal must wake its conversation: its next iteration or
// its deadline, whichever comes first; nil when neither is set.
func (g *Goal) Due() *time.Time {
	switch {
	case g.NextWakeAt == nil:
		return g.DeadlineAt
	case g.DeadlineAt == nil || g.NextWakeAt.Before(*g.DeadlineAt):
		return g.NextWakeAt
	}
	return g.DeadlineAt
}

// GoalOp is one of the goal commands of the contract.
type GoalOp string

const (
	OpGet      GoalOp = "get"
	OpCreate   GoalOp = "create"
	OpPause    GoalOp = "pause"
	OpResume   GoalOp = "resume"
	OpComplete GoalOp = "complete"
	OpDelete   GoalOp = "delete"
)

// GoalOps lists every goal command, for tables that must cover them all.
func GoalOps() []GoalOp {
	return []GoalOp{OpGet, OpCreate, OpPause, OpResume, OpComplete, OpDelete}
}

// GoalCommand asks a conversation to act on its goal.
type GoalCommand struct {
	Op          GoalOp
	Description string // OpCreate only
}

// ValidateGoalDescription applies the create rules to a description.
func ValidateGoalDescription(d string) error {
	switch {
	case strings.TrimSpace(d) == "":
		return Errorf(EInvalid, "description is required and must not be blank")
	case len(d) > MaxGoalDescriptionBytes:
		return Errorf(EInvalid, "description is longer than %d bytes", MaxGoalDescriptionBytes)
	case !utf8.ValidString(d):
		return Errorf(EInvalid, "description is not valid UTF-8")
	}
	return nil
}

// ApplyGoal is the goal state machine. Given the conversation's active goal
// (nil when none), it returns the active goal afterwards and the goal to
// show the caller (nil for "nothing": GET with no goal, DELETE). It does not
// modify active. now stamps the change; newID is called only on create.
func ApplyGoal(active *Goal, cmd GoalCommand, now time.Time, newID func() string) (next, shown *Goal, err error) {
	now = now.UTC()
	if cmd.Op == OpCreate {
		if active != nil {
			return active, nil, Errorf(EConflict, "an active goal already exists (%s, %s); complete or delete it first", active.ID, active.Status)
		}
		if err := ValidateGoalDescription(cmd.Description); err != nil {
			return nil, nil, err
		}
		g := &Goal{ID: newID(), Description: cmd.Description, Status: GoalInProgress, CreatedAt: now, UpdatedAt: now}
		return g, g, nil
	}
	if cmd.Op == OpGet {
		return active, active, nil
	}
	if active == nil {
		if !cmd.Op.known() {
			return nil, nil, Errorf(EInvalid, "unknown goal command %q", cmd.Op)
		}
		return nil, nil, Errorf(ENotFound, "no active goal")
	}
	g := *active
	g.UpdatedAt = now
	switch cmd.Op {
	case OpPause:
		if active.Status == GoalPaused {
			return active, nil, Errorf(EConflict, "goal is already paused")
		}
		g.Status = GoalPaused
	case OpResume:
		if active.Status != GoalPaused {
			return active, nil, Errorf(EConflict, "goal is not paused (it is %s)", active.Status)
		}
		g.Status = GoalInProgress
	case OpComplete:
		g.Status = GoalCompleted
		g.CompletedAt = &now
		return nil, &g, nil
	case OpDelete:
		return nil, nil, nil
	default:
		return active, nil, Errorf(EInvalid, "unknown goal command %q", cmd.Op)
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
