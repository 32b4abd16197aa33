package alice

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC)

func testRules() TaskRules {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	return TaskRules{Zone: shanghai, HasLLM: true, LLMKey: "bots.main.llm", Workflows: map[string]bool{"digest": true}, WorkflowKey: "bots.main.workflows"}
}

func decodeInput(t *testing.T, body string) TaskInput {
	t.Helper()
	var in TaskInput
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return in
}

func TestNewTaskValidation(t *testing.T) {
	noLLM := testRules()
	noLLM.HasLLM = false
	tests := []struct {
		name  string
		body  string
		rules *TaskRules
		want  string // error substring; "" = valid
	}{
		{"send_text now", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi"}`, nil, ""},
		{"cron", `{"scope_type":"user","scope_id":"ou_1","action":"send_text","text":"hi","cron":"55 9 * * 1-5"}`, nil, ""},
		{"descriptor", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"@daily"}`, nil, ""},
		{"every hour", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"@every 1h"}`, nil, ""},
		{"run_llm", `{"scope_type":"chat","scope_id":"oc_1","action":"run_llm","prompt":"summarise"}`, nil, ""},
		{"workflow with input", `{"scope_type":"chat","scope_id":"oc_1","action":"run_workflow","workflow":"digest","prompt":"team"}`, nil, ""},
		{"run_at with offset", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","run_at":"2025-01-16T09:00:00+08:00"}`, nil, ""},
		{"zone given", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"0 9 * * *","timezone":"Europe/Berlin"}`, nil, ""},

		{"missing scope type", `{"scope_id":"oc_1","action":"send_text","text":"hi"}`, nil, "scope_type is required"},
		{"bad scope type", `{"scope_type":"room","scope_id":"oc_1","action":"send_text","text":"hi"}`, nil, `scope_type "room"`},
		{"missing scope id", `{"scope_type":"chat","action":"send_text","text":"hi"}`, nil, "scope_id is required"},
		{"long scope id", `{"scope_type":"chat","scope_id":"` + strings.Repeat("x", 257) + `","action":"send_text","text":"hi"}`, nil, "scope_id is longer than 256"},
		{"missing action", `{"scope_type":"chat","scope_id":"oc_1","text":"hi"}`, nil, "action is required"},
		{"bad action", `{"scope_type":"chat","scope_id":"oc_1","action":"dance"}`, nil, `action "dance"`},
		{"send_text without text", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text"}`, nil, "needs a non-empty text"},
		{"send_text blank text", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"  "}`, nil, "needs a non-empty text"},
		{"send_text with prompt", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","prompt":"x"}`, nil, "field prompt does not belong to action send_text"},
		{"run_llm with text", `{"scope_type":"chat","scope_id":"oc_1","action":"run_llm","prompt":"x","text":"y"}`, nil, "field text does not belong to action run_llm"},
		{"run_llm without prompt", `{"scope_type":"chat","scope_id":"oc_1","action":"run_llm"}`, nil, "needs a non-empty prompt"},
		{"run_llm without backend", `{"scope_type":"chat","scope_id":"oc_1","action":"run_llm","prompt":"x"}`, &noLLM, "configure bots.main.llm"},
		{"unknown workflow", `{"scope_type":"chat","scope_id":"oc_1","action":"run_workflow","workflow":"nope"}`, nil, `workflow "nope" is not defined in bots.main.workflows`},
		{"workflow with text", `{"scope_type":"chat","scope_id":"oc_1","action":"run_workflow","workflow":"digest","text":"x"}`, nil, "field text does not belong"},
		{"text too long", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"` + strings.Repeat("x", MaxTaskTextBytes+1) + `"}`, nil, "text is longer than"},
		{"run_at past year 9999 after its offset", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"x","run_at":"9999-12-31T23:59:59-23:59"}`, nil, "outside the years 0001 to 9999"},
		{"run_at before year 1 after its offset", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"x","run_at":"0001-01-01T00:00:00+23:59"}`, nil, "outside the years 0001 to 9999"},
		{"blank scope_id", `{"scope_type":"chat","scope_id":" ","action":"send_text","text":"x"}`, nil, "must not be blank"},
		{"both schedules", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"@daily","run_at":"2030-01-01T00:00:00Z"}`, nil, "cron and run_at cannot both be set"},
		{"bad cron", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"61 * * * *"}`, nil, `cron "61 * * * *" is invalid`},
		{"six fields", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"0 0 9 * * *"}`, nil, "is invalid"},
		{"every 30s", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"@every 30s"}`, nil, "more often than once a minute"},
		{"cron with zone prefix", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"CRON_TZ=UTC 0 9 * * *"}`, nil, "use the timezone field"},
		{"never fires", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"0 0 30 2 *"}`, nil, "never fires"},
		{"bad zone", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"@daily","timezone":"Mars/Base"}`, nil, `timezone "Mars/Base"`},
		{"bad run_at", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","run_at":"tomorrow"}`, nil, `run_at "tomorrow"`},
		{"status on create", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","status":"active"}`, nil, "status cannot be set on create"},
		{"null text", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":null}`, nil, "text must not be null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := testRules()
			if tt.rules != nil {
				rules = *tt.rules
			}
			task, err := NewTask(decodeInput(t, tt.body), rules, "task_1", testNow)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewTask: %v", err)
				}
				if task.Status != TaskActive || task.NextRunAt == nil || task.NextRunAt.Before(testNow) {
					t.Fatalf("task %+v: want active with next_run_at not before now", task)
				}
				return
			}
			if ErrorCode(err) != EInvalid || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewTask error = %v, want invalid containing %q", err, tt.want)
			}
		})
	}
}

func TestNewTaskSchedule(t *testing.T) {
	tests := []struct {
		name, extra string
		want        time.Time
	}{
		{"no schedule runs at once", ``, testNow},
		{"past run_at runs at once", `,"run_at":"2020-01-01T00:00:00Z"`, testNow},
		{"future run_at", `,"run_at":"2025-01-16T09:00:00Z"`, time.Date(2025, 1, 16, 9, 0, 0, 0, time.UTC)},
		{"run_at without offset is read in the bot zone", `,"run_at":"2025-01-16T09:00:00"`, time.Date(2025, 1, 16, 1, 0, 0, 0, time.UTC)},
		{"run_at without offset in the task zone", `,"run_at":"2025-01-16T09:00","timezone":"Europe/Berlin"`, time.Date(2025, 1, 16, 8, 0, 0, 0, time.UTC)},
		{"cron in the bot zone", `,"cron":"0 18 * * *"`, time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)},
		{"cron in the task zone", `,"cron":"0 18 * * *","timezone":"UTC"}`[:len(`,"cron":"0 18 * * *","timezone":"UTC"`)], time.Date(2025, 1, 15, 18, 0, 0, 0, time.UTC)},
		{"every", `,"cron":"@every 90m"`, testNow.Add(90 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, err := NewTask(decodeInput(t, `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi"`+tt.extra+`}`), testRules(), "task_1", testNow)
			if err != nil {
				t.Fatal(err)
			}
			if !task.NextRunAt.Equal(tt.want) {
				t.Fatalf("next_run_at = %s, want %s", task.NextRunAt, tt.want)
			}
		})
	}
}

// TestCronAcrossDST pins robfig/cron's rules in a real zone: a daily slot
// keeps its wall-clock time across the change; a slot inside the
// spring-forward gap does not happen that day; a slot inside the repeated
// fall-back hour happens twice (once per offset).
func TestCronAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	rules := TaskRules{Zone: ny}
	tests := []struct {
		cron  string
		from  time.Time
		slots []string // local RFC 3339
	}{
		{"0 9 * * *", time.Date(2025, 3, 8, 12, 0, 0, 0, ny), []string{"2025-03-09T09:00:00-04:00", "2025-03-10T09:00:00-04:00"}},
		{"0 9 * * *", time.Date(2025, 3, 7, 12, 0, 0, 0, ny), []string{"2025-03-08T09:00:00-05:00", "2025-03-09T09:00:00-04:00"}},
		{"30 2 * * *", time.Date(2025, 3, 8, 12, 0, 0, 0, ny), []string{"2025-03-10T02:30:00-04:00"}},
		{"30 1 * * *", time.Date(2025, 11, 1, 12, 0, 0, 0, ny), []string{"2025-11-02T01:30:00-04:00", "2025-11-02T01:30:00-05:00", "2025-11-03T01:30:00-05:00"}},
	}
	for _, tt := range tests {
		task := &Task{Cron: tt.cron}
		at := tt.from
		for _, want := range tt.slots {
			next, err := task.NextSlot(at, rules)
			if err != nil {
				t.Fatal(err)
			}
			if got := next.In(ny).Format(time.RFC3339); got != want {
				t.Fatalf("%s after %s: %s, want %s", tt.cron, at.In(ny).Format(time.RFC3339), got, want)
			}
			at = next
		}
	}
}

func TestPatchTask(t *testing.T) {
	base := func(t *testing.T, extra string) *Task {
		task, err := NewTask(decodeInput(t, `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi"`+extra+`}`), testRules(), "task_1", testNow)
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	completed := func(t *testing.T) *TaskState {
		task := base(t, `,"run_at":"2025-01-15T10:00:00Z"`)
		task.Status, task.NextRunAt, task.RunCount = TaskCompleted, nil, 1
		return &TaskState{Task: *task, Recorded: 1}
	}
	// cancelledAfterRun is a one-shot that ran, then was cancelled: the
	// way around "re-activate only with a new run_at" that must not work.
	cancelledAfterRun := func(t *testing.T) *TaskState {
		ts := completed(t)
		ts.Status = TaskCancelled
		return ts
	}
	state := func(f func(*testing.T) *Task) func(*testing.T) *TaskState {
		return func(t *testing.T) *TaskState { return &TaskState{Task: *f(t)} }
	}
	later := testNow.Add(time.Hour)
	tests := []struct {
		name  string
		task  func(*testing.T) *TaskState
		patch string
		want  string                  // error substring; "" = valid
		check func(*testing.T, *Task) // on success
	}{
		{"empty object changes nothing", state(func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }), `{}`, "", func(t *testing.T, got *Task) {
			if got.Cron != "@daily" || got.Status != TaskActive || got.NextRunAt == nil {
				t.Fatalf("%+v", got)
			}
		}},
		{"cancel", state(func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }), `{"status":"cancelled"}`, "", func(t *testing.T, got *Task) {
			if got.Status != TaskCancelled || got.NextRunAt != nil {
				t.Fatalf("cancelled task %+v still scheduled", got)
			}
		}},
		{"re-activate cancelled", state(func(t *testing.T) *Task {
			task := base(t, `,"cron":"@daily"`)
			task.Status, task.NextRunAt = TaskCancelled, nil
			return task
		}), `{"status":"active"}`, "", func(t *testing.T, got *Task) {
			if got.Status != TaskActive || got.NextRunAt == nil {
				t.Fatalf("%+v", got)
			}
		}},
		{"change text", state(func(t *testing.T) *Task { return base(t, "") }), `{"text":"new"}`, "", func(t *testing.T, got *Task) {
			if got.Text != "new" || !got.UpdatedAt.Equal(later) {
				t.Fatalf("%+v", got)
			}
		}},
		{"null cron makes it one-shot now", state(func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }), `{"cron":null}`, "", func(t *testing.T, got *Task) {
			if got.Cron != "" || !got.NextRunAt.Equal(later) {
				t.Fatalf("%+v", got)
			}
		}},
		{"swap run_at for cron", state(func(t *testing.T) *Task { return base(t, `,"run_at":"2030-01-01T00:00:00Z"`) }), `{"run_at":null,"cron":"@hourly"}`, "", func(t *testing.T, got *Task) {
			if got.RunAt != nil || got.Cron != "@hourly" || got.NextRunAt == nil || !got.NextRunAt.After(later) {
				t.Fatalf("%+v", got)
			}
		}},
		{"re-activate completed with run_at", completed, `{"status":"active","run_at":"2025-02-01T00:00:00Z"}`, "", func(t *testing.T, got *Task) {
			if got.Status != TaskActive || !got.NextRunAt.Equal(time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)) || got.RunCount != 1 {
				t.Fatalf("%+v", got)
			}
		}},
		{"edit completed text", completed, `{"text":"later"}`, "", func(t *testing.T, got *Task) {
			if got.Status != TaskCompleted || got.NextRunAt != nil {
				t.Fatalf("%+v", got)
			}
		}},
		{"re-activate completed without run_at", completed, `{"status":"active"}`, "only with a new run_at", nil},
		{"re-activate a cancelled spent one-shot without run_at", cancelledAfterRun, `{"status":"active"}`, "only with a new run_at", nil},
		{"pause a cancelled spent one-shot without run_at", cancelledAfterRun, `{"status":"paused"}`, "only with a new run_at", nil},
		{"re-activate a cancelled spent one-shot with run_at", cancelledAfterRun, `{"status":"active","run_at":"2025-02-01T00:00:00Z"}`, "", func(t *testing.T, got *Task) {
			if got.Status != TaskActive || !got.NextRunAt.Equal(time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("%+v", got)
			}
		}},
		{"pause", state(func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }), `{"status":"paused"}`, "", func(t *testing.T, got *Task) {
			if got.Status != TaskPaused || got.NextRunAt != nil || got.Cron != "@daily" {
				t.Fatalf("paused task %+v: want its schedule kept and nothing next", got)
			}
		}},
		{"max_runs already reached", state(func(t *testing.T) *Task {
			task := base(t, `,"cron":"@daily","max_runs":2`)
			task.Status, task.NextRunAt, task.RunCount = TaskCompleted, nil, 2
			return task
		}), `{"status":"active"}`, "raise max_runs", nil},
		{"max_runs removed", state(func(t *testing.T) *Task {
			task := base(t, `,"cron":"@daily","max_runs":2`)
			task.Status, task.NextRunAt, task.RunCount = TaskCompleted, nil, 2
			return task
		}), `{"status":"active","max_runs":null}`, "", func(t *testing.T, got *Task) {
			if got.MaxRuns != 0 || got.Status != TaskActive || got.NextRunAt == nil {
				t.Fatalf("%+v", got)
			}
		}},
		{"run_at on completed without status", completed, `{"run_at":"2025-02-01T00:00:00Z"}`, `send "status": "active"`, nil},
		{"cron on completed", completed, `{"status":"active","run_at":"2025-02-01T00:00:00Z","cron":"@daily"}`, "cannot become a cron task", nil},
		{"both schedules", state(func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }), `{"run_at":"2030-01-01T00:00:00Z"}`, "cannot both be set", nil},
		{"status completed", state(func(t *testing.T) *Task { return base(t, "") }), `{"status":"completed"}`, "only be set to active, paused or cancelled", nil},
		{"status null", state(func(t *testing.T) *Task { return base(t, "") }), `{"status":null}`, "must not be null", nil},
		{"immutable action", state(func(t *testing.T) *Task { return base(t, "") }), `{"action":"run_llm"}`, "action cannot be changed", nil},
		{"immutable scope", state(func(t *testing.T) *Task { return base(t, "") }), `{"scope_id":"oc_2"}`, "scope_id cannot be changed", nil},
		{"null text fails re-validation", state(func(t *testing.T) *Task { return base(t, "") }), `{"text":null}`, "needs a non-empty text", nil},
		{"foreign field fails re-validation", state(func(t *testing.T) *Task { return base(t, "") }), `{"prompt":"x"}`, "does not belong", nil},
		{"bad cron", state(func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }), `{"cron":"nope"}`, "is invalid", nil},
		{"bad zone", state(func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }), `{"timezone":"Nowhere/City"}`, "timezone", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := tt.task(t)
			before := *task
			got, err := PatchTask(task, decodeInput(t, tt.patch), testRules(), later)
			if tt.want != "" {
				if ErrorCode(err) != EInvalid || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("PatchTask error = %v, want invalid containing %q", err, tt.want)
				}
			} else {
				if err != nil {
					t.Fatalf("PatchTask: %v", err)
				}
				tt.check(t, got)
			}
			if task.Text != before.Text || task.Status != before.Status || task.Cron != before.Cron {
				t.Fatal("PatchTask modified its input")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
