package alice

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
)

// Limits on tasks.
const (
	MaxTaskTextBytes        = 64 << 10 // text, prompt
	MaxTaskTitleBytes       = 200
	MaxTasksPerConversation = 500 // active and paused; finished ones do not count
	// MaxFinishedTasksPerConversation bounds the completed and cancelled
	// tasks a conversation keeps readable: beyond it the oldest go first,
	// even before their retention ends.
	MaxFinishedTasksPerConversation = 1000
	MaxRunsKeptPerTask              = 500
	MinCronInterval                 = time.Minute
	DefaultTaskRetention            = 30 * 24 * time.Hour
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
	TaskPaused    TaskStatus = "paused"
	TaskCompleted TaskStatus = "completed"
	TaskCancelled TaskStatus = "cancelled"
)

// TaskStatuses lists every status, for tables and indexes that cover them all.
func TaskStatuses() []TaskStatus {
	return []TaskStatus{TaskActive, TaskPaused, TaskCompleted, TaskCancelled}
}

// Terminal reports whether a task in this status is done: it no longer
// counts toward its conversation's cap and is removed after its retention.
func (s TaskStatus) Terminal() bool { return s == TaskCompleted || s == TaskCancelled }

// Valid reports whether s is one of the four statuses.
func (s TaskStatus) Valid() bool {
	switch s {
	case TaskActive, TaskPaused, TaskCompleted, TaskCancelled:
		return true
	}
	return false
}

// Task is an automation task as the API shows it. Fields without a value are
// omitted.
type Task struct {
	ID           string     `json:"id"`
	ScopeType    ScopeType  `json:"scope_type"`
	ScopeID      string     `json:"scope_id"`
	Action       TaskAction `json:"action"`
	Status       TaskStatus `json:"status"`
	Title        string     `json:"title,omitempty"`
	Text         string     `json:"text,omitempty"`
	Prompt       string     `json:"prompt,omitempty"`
	Workflow     string     `json:"workflow,omitempty"`
	Cron         string     `json:"cron,omitempty"`
	Timezone     string     `json:"timezone,omitempty"`
	RunAt        *time.Time `json:"run_at,omitempty"`
	MaxRuns      int        `json:"max_runs,omitempty"`
	NextRunAt    *time.Time `json:"next_run_at,omitempty"`
	LastRunAt    *time.Time `json:"last_run_at,omitempty"`
	RunCount     int        `json:"run_count,omitempty"`
	LastError    string     `json:"last_error,omitempty"`
	PausedReason string     `json:"paused_reason,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
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
// merge patch needs (RFC 7386: null removes). Unset fields are left out when
// it is encoded, so a client can send exactly the fields it set.
type TaskInput struct {
	ScopeType Field[string] `json:"scope_type,omitzero"`
	ScopeID   Field[string] `json:"scope_id,omitzero"`
	Action    Field[string] `json:"action,omitzero"`
	Status    Field[string] `json:"status,omitzero"`
	Title     Field[string] `json:"title,omitzero"`
	Text      Field[string] `json:"text,omitzero"`
	Prompt    Field[string] `json:"prompt,omitzero"`
	Workflow  Field[string] `json:"workflow,omitzero"`
	Cron      Field[string] `json:"cron,omitzero"`
	RunAt     Field[string] `json:"run_at,omitzero"`
	Timezone  Field[string] `json:"timezone,omitzero"`
	MaxRuns   Field[int]    `json:"max_runs,omitzero"`
}

// Field is a JSON field that remembers whether it was present and null.
type Field[T any] struct {
	Set   bool // present in the JSON object
	Null  bool // present as null
	Value T
}

// Value is a present field holding v.
func Value[T any](v T) Field[T] { return Field[T]{Set: true, Value: v} }

// Null is a field present as null: in a merge patch, it removes the value.
func Null[T any]() Field[T] { return Field[T]{Set: true, Null: true} }

// UnmarshalJSON records presence; JSON decoders call it only for fields
// that are present, null included.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	f.Set = true
	if string(b) == "null" {
		f.Null = true
		return nil
	}
	return json.Unmarshal(b, &f.Value)
}

// MarshalJSON writes null or the value.
func (f Field[T]) MarshalJSON() ([]byte, error) {
	if f.Null {
		return []byte("null"), nil
	}
	return json.Marshal(f.Value)
}

// IsZero reports an absent field, which omitzero leaves out.
func (f Field[T]) IsZero() bool { return !f.Set }

// NewTask validates a create request and returns the new active task with
// its first next_run_at.
func NewTask(in TaskInput, rules TaskRules, id string, now time.Time) (*Task, error) {
	if in.Status.Set {
		return nil, Errorf(EInvalid, "status cannot be set on create; a new task is active")
	}
	for _, f := range []struct {
		name string
		f    Field[string]
	}{{"scope_type", in.ScopeType}, {"scope_id", in.ScopeID}, {"action", in.Action}, {"title", in.Title}, {"text", in.Text},
		{"prompt", in.Prompt}, {"workflow", in.Workflow}, {"cron", in.Cron}, {"run_at", in.RunAt}, {"timezone", in.Timezone}} {
		if f.f.Null {
			return nil, Errorf(EInvalid, "%s must not be null", f.name)
		}
	}
	if in.MaxRuns.Null {
		return nil, Errorf(EInvalid, "max_runs must not be null (leave it out for no limit)")
	}
	scope, err := ParseScope(in.ScopeType.Value, in.ScopeID.Value)
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	t := &Task{
		ID: id, ScopeType: scope.Type, ScopeID: scope.ID, Action: TaskAction(in.Action.Value), Status: TaskActive,
		Title: in.Title.Value, Text: in.Text.Value, Prompt: in.Prompt.Value, Workflow: in.Workflow.Value,
		Cron: in.Cron.Value, Timezone: in.Timezone.Value, MaxRuns: in.MaxRuns.Value, CreatedAt: now, UpdatedAt: now,
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

// PatchTask applies a JSON merge patch to ts and returns the updated task,
// validated as on create, with next_run_at recomputed. ts is not modified.
// A one-shot task whose slot has been used (it ran, or was skipped) runs
// again only with a new run_at, whatever status it went through meanwhile.
func PatchTask(ts *TaskState, in TaskInput, rules TaskRules, now time.Time) (*Task, error) {
	for _, f := range []struct {
		name string
		set  bool
	}{{"scope_type", in.ScopeType.Set}, {"scope_id", in.ScopeID.Set}, {"action", in.Action.Set}} {
		if f.set {
			return nil, Errorf(EInvalid, "%s cannot be changed; create a new task instead", f.name)
		}
	}
	t := &ts.Task
	now = now.UTC()
	next := *t
	if in.Status.Set {
		switch s := TaskStatus(in.Status.Value); {
		case in.Status.Null:
			return nil, Errorf(EInvalid, "status must not be null")
		case s == TaskActive || s == TaskPaused || s == TaskCancelled:
			next.Status = s
		default:
			return nil, Errorf(EInvalid, "status %s can only be set to active, paused or cancelled", Quote(in.Status.Value))
		}
	}
	newRunAt := in.RunAt.Set && !in.RunAt.Null
	// A one-shot task's slot is used once it has a run record (it ran, or
	// was skipped); cancelling it first must not be a way around that.
	spentOneShot := t.Cron == "" && ts.Recorded > 0
	resuming := in.Status.Set && next.Status != TaskCancelled && t.Status.Terminal()
	switch {
	case spentOneShot && in.Cron.Set && !in.Cron.Null:
		return nil, Errorf(EInvalid, "a one-shot task that has had its run cannot become a cron task; create a new task")
	case spentOneShot && resuming && !newRunAt:
		return nil, Errorf(EInvalid, "this one-shot task has already had its run; it is re-activated only with a new run_at")
	case t.Status == TaskCompleted && !in.Status.Set && newRunAt:
		return nil, Errorf(EInvalid, `the task is completed; send "status": "active" with the new run_at to run it again`)
	}
	strField := func(dst *string, f Field[string]) {
		if f.Set {
			*dst = f.Value // null leaves Value empty: removed
		}
	}
	strField(&next.Title, in.Title)
	strField(&next.Text, in.Text)
	strField(&next.Prompt, in.Prompt)
	strField(&next.Workflow, in.Workflow)
	strField(&next.Cron, in.Cron)
	strField(&next.Timezone, in.Timezone)
	if in.MaxRuns.Set {
		next.MaxRuns = in.MaxRuns.Value // null: 0, no limit
	}
	if in.RunAt.Set {
		next.RunAt = nil
		if err := next.setRunAt(in.RunAt, rules); err != nil {
			return nil, err
		}
	}
	if err := next.validate(rules); err != nil {
		return nil, err
	}
	if next.Status == TaskActive && next.MaxRuns > 0 && next.RunCount >= next.MaxRuns {
		return nil, Errorf(EInvalid, "the task has run %d times, its max_runs; raise max_runs or remove it (null) to run it again", next.RunCount)
	}
	if next.Status != TaskPaused {
		next.PausedReason = ""
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

// actionFields says which of text, prompt and workflow an action needs and
// which it allows.
func actionFields(a TaskAction) (required string, allowed func(field string) bool, ok bool) {
	switch a {
	case ActionSendText:
		return "text", func(f string) bool { return f == "text" }, true
	case ActionRunLLM:
		return "prompt", func(f string) bool { return f == "prompt" }, true
	case ActionRunWorkflow:
		return "workflow", func(f string) bool { return f == "workflow" || f == "prompt" }, true
	}
	return "", nil, false
}

// validate checks the action's fields and the schedule's syntax.
func (t *Task) validate(rules TaskRules) error {
	required, allowed, ok := actionFields(t.Action)
	if !ok {
		if t.Action == "" {
			return Errorf(EInvalid, "action is required: send_text, run_llm or run_workflow")
		}
		return Errorf(EInvalid, "action %s is not send_text, run_llm or run_workflow", Quote(string(t.Action)))
	}
	for _, f := range [...]struct{ name, value string }{{"text", t.Text}, {"prompt", t.Prompt}, {"workflow", t.Workflow}} {
		if f.value != "" && !allowed(f.name) {
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
	switch {
	case len(t.Title) > MaxTaskTitleBytes:
		return Errorf(EInvalid, "title is longer than %d bytes", MaxTaskTitleBytes)
	case !utf8.ValidString(t.Title):
		return Errorf(EInvalid, "title is not valid UTF-8")
	case t.MaxRuns < 0:
		return Errorf(EInvalid, "max_runs must be 0 (no limit) or more, not %d", t.MaxRuns)
	}
	switch t.Action {
	case ActionRunLLM:
		if !rules.HasLLM {
			return Errorf(EInvalid, "run_llm needs an LLM backend, and this bot has none: configure %s", rules.LLMKey)
		}
	case ActionRunWorkflow:
		if !rules.Workflows[t.Workflow] {
			return Errorf(EInvalid, "workflow %s is not defined in %s", Quote(t.Workflow), rules.WorkflowKey)
		}
	}
	if t.Cron != "" && t.RunAt != nil {
		return Errorf(EInvalid, "cron and run_at cannot both be set: a task is recurring or one-shot")
	}
	if _, err := t.Location(rules); err != nil {
		return err
	}
	if t.Cron != "" {
		if _, err := ParseCron(t.Cron); err != nil {
			return err
		}
	}
	return nil
}

// Earliest and latest instants a timestamp may name: JSON and RFC 3339 hold
// years 0001 to 9999 only, in UTC, whatever offset the input used.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// setRunAt parses run_at: RFC 3339, or a local date-time without offset read
// in the task's zone.
func (t *Task) setRunAt(f Field[string], rules TaskRules) error {
	if !f.Set || f.Null {
		return nil
	}
	s := strings.TrimSpace(f.Value)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		loc, lerr := t.Location(rules)
		if lerr != nil {
			return lerr
		}
		for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
			if at, err = time.ParseInLocation(layout, s, loc); err == nil {
				break
			}
		}
	}
	if err != nil {
		return Errorf(EInvalid, "run_at %s is not an RFC 3339 timestamp such as 2025-01-15T09:00:00+08:00 (or 2025-01-15T09:00:00 in the task's zone)", Quote(f.Value))
	}
	if at.Before(minTime) || at.After(maxTime) {
		return Errorf(EInvalid, "run_at %s is outside the years 0001 to 9999 in UTC", Quote(f.Value))
	}
	at = ceilMilli(at)
	t.RunAt = &at
	return nil
}

// Location is the zone the task's schedule and placeholders are read in.
func (t *Task) Location(rules TaskRules) (*time.Location, error) {
	if t.Timezone == "" {
		if rules.Zone == nil {
			return time.Local, nil
		}
		return rules.Zone, nil
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil || t.Timezone == "Local" {
		return nil, Errorf(EInvalid, "timezone %s is not an IANA zone name such as Asia/Shanghai", Quote(t.Timezone))
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
	s, err := t.cronSchedule(rules)
	if err != nil {
		return time.Time{}, err
	}
	next := s.next(after)
	if next.IsZero() {
		return time.Time{}, Errorf(EInvalid, "cron %s never fires", Quote(t.Cron))
	}
	return next, nil
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
		return nil, Errorf(EInvalid, "cron %s is invalid: %s (want 5 fields such as \"55 9 * * 1-5\", or @hourly, @daily, @weekly, @monthly, @yearly, @every 1h)", Quote(expr), Quote(err.Error()))
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok && every.Delay < MinCronInterval {
		return nil, Errorf(EInvalid, "cron %s runs more often than once a minute", Quote(expr))
	}
	return sched, nil
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
	// Attempts is how many times the agent was tried; AttemptLog says how
	// each try went.
	Attempts   int       `json:"attempts,omitempty"`
	AttemptLog []Attempt `json:"attempt_log,omitempty"`
}

// Attempt is one try of an occurrence's agent: when it started, how long
// it took, how it ended ("exit 1", "signal: killed", "timeout", "http
// 429"; empty when it succeeded) and its error.
type Attempt struct {
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Status     string    `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Occurrence is one run of a task at one of its slots.
type Occurrence struct {
	ID          string    `json:"id"`
	ScheduledAt time.Time `json:"scheduled_at"`
	StartedAt   time.Time `json:"started_at"`
}

// OccurrenceID names the occurrence of task id at its scheduled slot. It is
// the same every time the slot is considered, so it serves as the
// idempotency key of the occurrence's deliveries across crashes.
func OccurrenceID(taskID string, scheduled time.Time) string {
	return "occ_" + strings.TrimPrefix(taskID, "task_") + "_" + strconv.FormatInt(scheduled.UnixMilli(), 10)
}

// FillPlaceholders replaces {{now}} (RFC 3339), {{date}} (2006-01-02),
// {{time}} (15:04:05) and {{unix}} (epoch seconds) in s with now read in
// loc. Nothing else in s is interpreted.
func FillPlaceholders(s string, now time.Time, loc *time.Location) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	now = now.In(loc)
	return strings.NewReplacer(
		"{{now}}", now.Format(time.RFC3339),
		"{{date}}", now.Format("2006-01-02"),
		"{{time}}", now.Format("15:04:05"),
		"{{unix}}", strconv.FormatInt(now.Unix(), 10),
	).Replace(s)
}
