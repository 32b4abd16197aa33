package alice

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
)

// Limits on tasks.
const (
	MaxTaskTextBytes        = 64 << 10 // text, prompt
	MaxTasksPerConversation = 500
	MaxRunsKeptPerTask      = 500
	MinCronInterval         = time.Minute
)

// TaskAction is what a task does when it runs.
type TaskAction string

const (
	ActionSendText    TaskAction = "send_text"
	ActionRunLLM      TaskAction = "run_llm"
	ActionRunWorkflow TaskAction = "run_workflow"
)

// TaskStatus is where a task stands.
type TaskStatus string

const (
	TaskActive    TaskStatus = "active"
	TaskCompleted TaskStatus = "completed"
	TaskCancelled TaskStatus = "cancelled"
)

// Task is an automation task as the API shows it. Fields without a value are
// omitted.
type Task struct {
	ID        string     `json:"id"`
	ScopeType ScopeType  `json:"scope_type"`
	ScopeID   string     `json:"scope_id"`
	Action    TaskAction `json:"action"`
	Status    TaskStatus `json:"status"`
	Text      string     `json:"text,omitempty"`
	Prompt    string     `json:"prompt,omitempty"`
	Workflow  string     `json:"workflow,omitempty"`
	Cron      string     `json:"cron,omitempty"`
	Timezone  string     `json:"timezone,omitempty"`
	RunAt     *time.Time `json:"run_at,omitempty"`
	NextRunAt *time.Time `json:"next_run_at,omitempty"`
	LastRunAt *time.Time `json:"last_run_at,omitempty"`
	RunCount  int        `json:"run_count,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Equal reports whether t and o hold the same values, comparing the times
// they point to rather than the pointers.
func (t *Task) Equal(o *Task) bool {
	a, b := *t, *o
	times := [][2]*time.Time{{a.RunAt, b.RunAt}, {a.NextRunAt, b.NextRunAt}, {a.LastRunAt, b.LastRunAt}}
	a.RunAt, a.NextRunAt, a.LastRunAt = nil, nil, nil
	b.RunAt, b.NextRunAt, b.LastRunAt = nil, nil, nil
	if a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) {
		a.CreatedAt, a.UpdatedAt = b.CreatedAt, b.UpdatedAt
	}
	if a != b {
		return false
	}
	for _, p := range times {
		if (p[0] == nil) != (p[1] == nil) || p[0] != nil && !p[0].Equal(*p[1]) {
			return false
		}
	}
	return true
}

// Scope is the conversation the task belongs to.
func (t *Task) Scope() Scope { return Scope{Type: t.ScopeType, ID: t.ScopeID} }

// TaskRules are the bot settings a task is validated against.
type TaskRules struct {
	Zone        *time.Location  // default zone for cron and offset-less run_at
	HasLLM      bool            // run_llm is allowed
	LLMKey      string          // the config key to name when it is not, e.g. bots.main.llm
	Workflows   map[string]bool // names run_workflow may use
	WorkflowKey string          // e.g. bots.main.workflows
}

// TaskInput is a create request or a merge patch, as decoded from JSON.
// Each field tells whether it was present and whether it was null, which a
// merge patch needs (RFC 7386: null removes).
type TaskInput struct {
	ScopeType Field[string] `json:"scope_type"`
	ScopeID   Field[string] `json:"scope_id"`
	Action    Field[string] `json:"action"`
	Status    Field[string] `json:"status"`
	Text      Field[string] `json:"text"`
	Prompt    Field[string] `json:"prompt"`
	Workflow  Field[string] `json:"workflow"`
	Cron      Field[string] `json:"cron"`
	RunAt     Field[string] `json:"run_at"`
	Timezone  Field[string] `json:"timezone"`
}

// Field is a JSON field that remembers whether it was present and null.
type Field[T any] struct {
	Set   bool // present in the JSON object
	Null  bool // present as null
	Value T
}

// UnmarshalJSON records presence; encoding/json calls it only for fields
// that are present, null included.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	f.Set = true
	if string(b) == "null" {
		f.Null = true
		return nil
	}
	return json.Unmarshal(b, &f.Value)
}

// NewTask validates a create request and returns the new active task with
// its first next_run_at.
func NewTask(in TaskInput, rules TaskRules, id string, now time.Time) (*Task, error) {
	if in.Status.Set {
		return nil, Errorf(EInvalid, "status cannot be set on create; a new task is active")
	}
	for _, f := range []struct {
		name string
		f    Field[string]
	}{{"scope_type", in.ScopeType}, {"scope_id", in.ScopeID}, {"action", in.Action}, {"text", in.Text},
		{"prompt", in.Prompt}, {"workflow", in.Workflow}, {"cron", in.Cron}, {"run_at", in.RunAt}, {"timezone", in.Timezone}} {
		if f.f.Null {
			return nil, Errorf(EInvalid, "%s must not be null", f.name)
		}
	}
	scope, err := ParseScope(in.ScopeType.Value, in.ScopeID.Value)
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	t := &Task{
		ID: id, ScopeType: scope.Type, ScopeID: scope.ID, Action: TaskAction(in.Action.Value), Status: TaskActive,
		Text: in.Text.Value, Prompt: in.Prompt.Value, Workflow: in.Workflow.Value,
		Cron: in.Cron.Value, Timezone: in.Timezone.Value, CreatedAt: now, UpdatedAt: now,
	}
	if err := t.setRunAt(in.RunAt, rules); err != nil {
		return nil, err
	}
	if err := t.validate(rules); err != nil {
		return nil, err
	}
	if err := t.schedule(now, rules); err != nil {
		return nil, err
	}
	return t, nil
}

// PatchTask applies a JSON merge patch to t and returns the updated copy,
// validated as on create, with next_run_at recomputed. t is not modified.
func PatchTask(t *Task, in TaskInput, rules TaskRules, now time.Time) (*Task, error) {
	for _, f := range []struct {
		name string
		set  bool
	}{{"scope_type", in.ScopeType.Set}, {"scope_id", in.ScopeID.Set}, {"action", in.Action.Set}} {
		if f.set {
			return nil, Errorf(EInvalid, "%s cannot be changed; create a new task instead", f.name)
		}
	}
	now = now.UTC()
	next := *t
	if in.Status.Set {
		switch TaskStatus(in.Status.Value) {
		case TaskActive, TaskCancelled:
			if in.Status.Null {
				return nil, Errorf(EInvalid, "status must not be null")
			}
			next.Status = TaskStatus(in.Status.Value)
		default:
			return nil, Errorf(EInvalid, "status %q can only be set to active or cancelled", in.Status.Value)
		}
	}
	if t.Status == TaskCompleted {
		switch {
		case next.Status == TaskActive && in.Status.Set && (!in.RunAt.Set || in.RunAt.Null):
			return nil, Errorf(EInvalid, "a completed task is re-activated only with a new run_at")
		case in.RunAt.Set && !in.RunAt.Null && next.Status != TaskActive:
			return nil, Errorf(EInvalid, `the task is completed; send "status": "active" with the new run_at to run it again`)
		case in.Cron.Set && !in.Cron.Null:
			return nil, Errorf(EInvalid, "a completed one-shot task cannot become a cron task; create a new task")
		}
	}
	strField := func(dst *string, f Field[string]) {
		if f.Set {
			*dst = f.Value // null leaves Value empty: removed
		}
	}
	strField(&next.Text, in.Text)
	strField(&next.Prompt, in.Prompt)
	strField(&next.Workflow, in.Workflow)
	strField(&next.Cron, in.Cron)
	strField(&next.Timezone, in.Timezone)
	if in.RunAt.Set {
		next.RunAt = nil
		if err := next.setRunAt(in.RunAt, rules); err != nil {
			return nil, err
		}
	}
	if err := next.validate(rules); err != nil {
		return nil, err
	}
	next.UpdatedAt = now
	scheduleChanged := in.Status.Set || in.Cron.Set || in.RunAt.Set || in.Timezone.Set
	if scheduleChanged || next.Status != TaskActive {
		if err := next.schedule(now, rules); err != nil {
			return nil, err
		}
	}
	return &next, nil
}

// validate checks the action's fields and the schedule's syntax.
func (t *Task) validate(rules TaskRules) error {
	type field struct {
		name  string
		value string
	}
	need := map[TaskAction]string{ActionSendText: "text", ActionRunLLM: "prompt", ActionRunWorkflow: "workflow"}
	allowed := map[TaskAction]map[string]bool{
		ActionSendText:    {"text": true},
		ActionRunLLM:      {"prompt": true},
		ActionRunWorkflow: {"workflow": true, "prompt": true},
	}
	required, ok := need[t.Action]
	if !ok {
		if t.Action == "" {
			return Errorf(EInvalid, "action is required: send_text, run_llm or run_workflow")
		}
		return Errorf(EInvalid, "action %q is not send_text, run_llm or run_workflow", truncate(string(t.Action), 64))
	}
	for _, f := range []field{{"text", t.Text}, {"prompt", t.Prompt}, {"workflow", t.Workflow}} {
		if f.value != "" && !allowed[t.Action][f.name] {
			return Errorf(EInvalid, "field %s does not belong to action %s", f.name, t.Action)
		}
		if len(f.value) > MaxTaskTextBytes {
			return Errorf(EInvalid, "%s is longer than %d bytes", f.name, MaxTaskTextBytes)
		}
		if !utf8.ValidString(f.value) {
			return Errorf(EInvalid, "%s is not valid UTF-8", f.name)
		}
		if f.name == required && strings.TrimSpace(f.value) == "" {
			return Errorf(EInvalid, "action %s needs a non-empty %s", t.Action, required)
		}
	}
	switch t.Action {
	case ActionRunLLM:
		if !rules.HasLLM {
			return Errorf(EInvalid, "run_llm needs an LLM backend, and this bot has none: configure %s", rules.LLMKey)
		}
	case ActionRunWorkflow:
		if !rules.Workflows[t.Workflow] {
			return Errorf(EInvalid, "workflow %q is not defined in %s", truncate(t.Workflow, 64), rules.WorkflowKey)
		}
	}
	if t.Cron != "" && t.RunAt != nil {
		return Errorf(EInvalid, "cron and run_at cannot both be set: a task is recurring or one-shot")
	}
	if _, err := t.location(rules); err != nil {
		return err
	}
	if t.Cron != "" {
		if _, err := ParseCron(t.Cron); err != nil {
			return err
		}
	}
	return nil
}

// setRunAt parses run_at: RFC 3339, or a local date-time without offset read
// in the task's zone.
func (t *Task) setRunAt(f Field[string], rules TaskRules) error {
	if !f.Set || f.Null {
		return nil
	}
	s := strings.TrimSpace(f.Value)
	if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
		at = ceilMilli(at)
		t.RunAt = &at
		return nil
	}
	loc, err := t.location(rules)
	if err != nil {
		return err
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if at, err := time.ParseInLocation(layout, s, loc); err == nil {
			at = ceilMilli(at)
			t.RunAt = &at
			return nil
		}
	}
	return Errorf(EInvalid, "run_at %q is not an RFC 3339 timestamp such as 2025-01-15T09:00:00+08:00 (or 2025-01-15T09:00:00 in the task's zone)", truncate(f.Value, 64))
}

// location is the zone the task's schedule is read in.
func (t *Task) location(rules TaskRules) (*time.Location, error) {
	if t.Timezone == "" {
		if rules.Zone == nil {
			return time.Local, nil
		}
		return rules.Zone, nil
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil || t.Timezone == "Local" {
		return nil, Errorf(EInvalid, "timezone %q is not an IANA zone name such as Asia/Shanghai", truncate(t.Timezone, 64))
	}
	return loc, nil
}

// schedule sets next_run_at for the task's status and schedule from now.
func (t *Task) schedule(now time.Time, rules TaskRules) error {
	t.NextRunAt = nil
	if t.Status != TaskActive {
		return nil
	}
	switch {
	case t.Cron != "":
		next, err := t.NextSlot(now, rules)
		if err != nil {
			return err
		}
		t.NextRunAt = &next
	case t.RunAt != nil && t.RunAt.After(now):
		at := *t.RunAt
		t.NextRunAt = &at
	default: // no schedule, or a run_at in the past: run at once
		at := ceilMilli(now)
		t.NextRunAt = &at
	}
	return nil
}

// ceilMilli rounds t up to the millisecond, in UTC. Due times are kept at the
// due index's precision, rounded up so that nothing runs before its time.
func ceilMilli(t time.Time) time.Time {
	if r := t.Truncate(time.Millisecond); !r.Equal(t) {
		t = r.Add(time.Millisecond)
	}
	return t.UTC()
}

// NextSlot is the first cron slot strictly after `after`, in the task's zone.
func (t *Task) NextSlot(after time.Time, rules TaskRules) (time.Time, error) {
	sched, err := ParseCron(t.Cron)
	if err != nil {
		return time.Time{}, err
	}
	loc, err := t.location(rules)
	if err != nil {
		return time.Time{}, err
	}
	next := sched.Next(after.In(loc))
	if next.IsZero() {
		return time.Time{}, Errorf(EInvalid, "cron %q never fires", truncate(t.Cron, 64))
	}
	return next.UTC(), nil
}

// ParseCron parses a standard 5-field expression or a descriptor (@hourly,
// @daily, @weekly, @monthly, @yearly, @every <duration> of at least a
// minute) with robfig/cron's parser. The zone comes from the task's
// timezone field, so CRON_TZ= prefixes are refused.
func ParseCron(expr string) (cron.Schedule, error) {
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, Errorf(EInvalid, "cron must not carry a zone; use the timezone field")
	}
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	sched, err := parser.Parse(expr)
	if err != nil {
		return nil, Errorf(EInvalid, "cron %q is invalid: %v (want 5 fields such as \"55 9 * * 1-5\", or @hourly, @daily, @weekly, @monthly, @yearly, @every 1h)", truncate(expr, 64), err)
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok && every.Delay < MinCronInterval {
		return nil, Errorf(EInvalid, "cron %q runs more often than once a minute", truncate(expr, 64))
	}
	return sched, nil
}

// Plan is what to do with a task whose next_run_at has come.
type Plan struct {
	Run     *time.Time  // the slot to run now, if any
	Skipped []time.Time // missed slots to record as skipped, oldest first
	Reason  string      // why they were skipped
	Next    *time.Time  // next_run_at afterwards (nil: the task is done)
	Omitted int         // missed slots too old to record one by one
}

// PlanDue decides which of the task's slots up to now run and which are
// skipped. The newest missed slot runs when it is within window of now (the
// catch-up after downtime); every older one is skipped. At most
// MaxRunsKeptPerTask skipped slots are listed; older ones are counted in
// Omitted. Call it only when NextRunAt is not after now.
func PlanDue(t *Task, now time.Time, window time.Duration, rules TaskRules) (Plan, error) {
	if t.NextRunAt == nil || t.NextRunAt.After(now) {
		return Plan{Next: t.NextRunAt}, nil
	}
	slots := []time.Time{*t.NextRunAt}
	dropped := 0 // slots walked past and not kept, oldest first
	var next *time.Time
	if t.Cron != "" {
		// Walk the slots up to now, keeping only the newest few.
		for {
			s, err := t.NextSlot(slots[len(slots)-1], rules)
			if err != nil {
				return Plan{}, err
			}
			if s.After(now) {
				next = &s
				break
			}
			slots = append(slots, s)
			if len(slots) > MaxRunsKeptPerTask+1 {
				slots = slots[1:]
				dropped++
			}
		}
	}
	p := Plan{Next: next}
	newest := slots[len(slots)-1]
	if now.Sub(newest) <= window {
		p.Run = &newest
		p.Skipped = slots[:len(slots)-1]
		p.Reason = fmt.Sprintf("missed while the runtime was down; caught up once with the slot at %s", newest.Format(time.RFC3339))
	} else {
		p.Skipped = slots
		p.Reason = fmt.Sprintf("missed by more than the catch-up window (%s)", window)
	}
	p.Omitted = dropped
	if extra := len(p.Skipped) - MaxRunsKeptPerTask; extra > 0 {
		p.Omitted += extra
		p.Skipped = p.Skipped[extra:]
	}
	return p, nil
}

// Outcome is how an occurrence ended.
type Outcome string

const (
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeFailed    Outcome = "failed"
	OutcomeSkipped   Outcome = "skipped"
)

// Run is one recorded occurrence of a task.
type Run struct {
	OccurrenceID string     `json:"occurrence_id"`
	ScheduledAt  time.Time  `json:"scheduled_at"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	Outcome      Outcome    `json:"outcome"`
	Error        string     `json:"error,omitempty"`
	MessageID    string     `json:"message_id,omitempty"`
}

// OccurrenceID names the occurrence of task id at its scheduled slot. It is
// the same every time the slot is considered, so it serves as the
// idempotency key of the occurrence's deliveries across crashes.
func OccurrenceID(taskID string, scheduled time.Time) string {
	return fmt.Sprintf("occ_%s_%d", strings.TrimPrefix(taskID, "task_"), scheduled.UnixMilli())
}
