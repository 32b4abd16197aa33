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
	completed := func(t *testing.T) *Task {
		task := base(t, `,"run_at":"2025-01-15T10:00:00Z"`)
		task.Status, task.NextRunAt, task.RunCount = TaskCompleted, nil, 1
		return task
	}
	later := testNow.Add(time.Hour)
	tests := []struct {
		name  string
		task  func(*testing.T) *Task
		patch string
		want  string                  // error substring; "" = valid
		check func(*testing.T, *Task) // on success
	}{
		{"empty object changes nothing", func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }, `{}`, "", func(t *testing.T, got *Task) {
			if got.Cron != "@daily" || got.Status != TaskActive || got.NextRunAt == nil {
				t.Fatalf("%+v", got)
			}
		}},
		{"cancel", func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }, `{"status":"cancelled"}`, "", func(t *testing.T, got *Task) {
			if got.Status != TaskCancelled || got.NextRunAt != nil {
				t.Fatalf("cancelled task %+v still scheduled", got)
			}
		}},
		{"re-activate cancelled", func(t *testing.T) *Task {
			task := base(t, `,"cron":"@daily"`)
			task.Status, task.NextRunAt = TaskCancelled, nil
			return task
		}, `{"status":"active"}`, "", func(t *testing.T, got *Task) {
			if got.Status != TaskActive || got.NextRunAt == nil {
				t.Fatalf("%+v", got)
			}
		}},
		{"change text", func(t *testing.T) *Task { return base(t, "") }, `{"text":"new"}`, "", func(t *testing.T, got *Task) {
			if got.Text != "new" || !got.UpdatedAt.Equal(later) {
				t.Fatalf("%+v", got)
			}
		}},
		{"null cron makes it one-shot now", func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }, `{"cron":null}`, "", func(t *testing.T, got *Task) {
			if got.Cron != "" || !got.NextRunAt.Equal(later) {
				t.Fatalf("%+v", got)
			}
		}},
		{"swap run_at for cron", func(t *testing.T) *Task { return base(t, `,"run_at":"2030-01-01T00:00:00Z"`) }, `{"run_at":null,"cron":"@hourly"}`, "", func(t *testing.T, got *Task) {
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
		{"run_at on completed without status", completed, `{"run_at":"2025-02-01T00:00:00Z"}`, `send "status": "active"`, nil},
		{"cron on completed", completed, `{"status":"active","run_at":"2025-02-01T00:00:00Z","cron":"@daily"}`, "cannot become a cron task", nil},
		{"both schedules", func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }, `{"run_at":"2030-01-01T00:00:00Z"}`, "cannot both be set", nil},
		{"status completed", func(t *testing.T) *Task { return base(t, "") }, `{"status":"completed"}`, "only be set to active or cancelled", nil},
		{"status null", func(t *testing.T) *Task { return base(t, "") }, `{"status":null}`, "active or cancelled", nil},
		{"immutable action", func(t *testing.T) *Task { return base(t, "") }, `{"action":"run_llm"}`, "action cannot be changed", nil},
		{"immutable scope", func(t *testing.T) *Task { return base(t, "") }, `{"scope_id":"oc_2"}`, "scope_id cannot be changed", nil},
		{"null text fails re-validation", func(t *testing.T) *Task { return base(t, "") }, `{"text":null}`, "needs a non-empty text", nil},
		{"foreign field fails re-validation", func(t *testing.T) *Task { return base(t, "") }, `{"prompt":"x"}`, "does not belong", nil},
		{"bad cron", func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }, `{"cron":"nope"}`, "is invalid", nil},
		{"bad zone", func(t *testing.T) *Task { return base(t, `,"cron":"@daily"`) }, `{"timezone":"Nowhere/City"}`, "timezone", nil},
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

func TestPlanDue(t *testing.T) {
	every := func(next time.Time) *Task { n := next; return &Task{ID: "task_1", Cron: "@every 1h", NextRunAt: &n} }
	every2h := func(next time.Time) *Task { n := next; return &Task{ID: "task_1", Cron: "@every 2h", NextRunAt: &n} }
	oneShot := func(next time.Time) *Task { n := next; return &Task{ID: "task_1", NextRunAt: &n} }
	base := testNow
	tests := []struct {
		name     string
		task     *Task
		now      time.Time
		run      *time.Time
		skipped  int
		next     *time.Time
		omitted  int
		reasonIs string
	}{
		{"on time", every(base), base.Add(time.Second), &base, 0, ptr(base.Add(time.Hour)), 0, ""},
		{"not yet", every(base.Add(time.Minute)), base, nil, 0, ptr(base.Add(time.Minute)), 0, ""},
		{"three missed, newest in window", every(base), base.Add(2*time.Hour + 30*time.Minute), ptr(base.Add(2 * time.Hour)), 2, ptr(base.Add(3 * time.Hour)), 0, "caught up once"},
		{"all missed beyond window", every2h(base), base.Add(5*time.Hour + 30*time.Minute), nil, 3, ptr(base.Add(6 * time.Hour)), 0, "more than the catch-up window"},
		{"one-shot in window", oneShot(base), base.Add(30 * time.Minute), &base, 0, nil, 0, ""},
		{"one-shot beyond window", oneShot(base), base.Add(2 * time.Hour), nil, 1, nil, 0, "more than the catch-up window"},
		{"a year of downtime is bounded", every2h(base), base.Add(8760*time.Hour + 90*time.Minute), nil, MaxRunsKeptPerTask, ptr(base.Add(8762 * time.Hour)), 8760/2 + 1 - MaxRunsKeptPerTask, "more than"},
		{"a year of downtime, caught up", every(base), base.Add(8760*time.Hour + 30*time.Minute), ptr(base.Add(8760 * time.Hour)), MaxRunsKeptPerTask, ptr(base.Add(8761 * time.Hour)), 8760 - MaxRunsKeptPerTask, "caught up once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanDue(tt.task, tt.now, time.Hour, TaskRules{Zone: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			if !sameTime(p.Run, tt.run) || !sameTime(p.Next, tt.next) || len(p.Skipped) != tt.skipped || p.Omitted != tt.omitted {
				t.Fatalf("plan = run %v next %v skipped %d omitted %d; want run %v next %v skipped %d omitted %d",
					p.Run, p.Next, len(p.Skipped), p.Omitted, tt.run, tt.next, tt.skipped, tt.omitted)
			}
			if tt.reasonIs != "" && !strings.Contains(p.Reason, tt.reasonIs) {
				t.Fatalf("reason %q, want %q", p.Reason, tt.reasonIs)
			}
			for i, s := range p.Skipped {
				if s.After(tt.now) || (p.Run != nil && !s.Before(*p.Run)) || (i > 0 && !s.After(p.Skipped[i-1])) {
					t.Fatalf("skipped slot %d (%s) is out of order or in the future", i, s)
				}
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

func TestTaskEqual(t *testing.T) {
	at := testNow
	same := testNow.In(time.FixedZone("X", 3600)) // the same instant elsewhere
	base := Task{ID: "task_1", Text: "a", NextRunAt: &at, CreatedAt: at, UpdatedAt: at}
	tests := []struct {
		name   string
		change func(*Task)
		equal  bool
	}{
		{"identical", func(*Task) {}, true},
		{"same instants, other pointers and zones", func(x *Task) { x.NextRunAt = &same; x.CreatedAt = same }, true},
		{"text", func(x *Task) { x.Text = "b" }, false},
		{"next run removed", func(x *Task) { x.NextRunAt = nil }, false},
		{"next run moved", func(x *Task) { later := at.Add(time.Second); x.NextRunAt = &later }, false},
		{"run count", func(x *Task) { x.RunCount = 1 }, false},
		{"updated", func(x *Task) { x.UpdatedAt = at.Add(time.Millisecond) }, false},
		{"last run set", func(x *Task) { x.LastRunAt = &at }, false},
	}
	for _, tt := range tests {
		other := base
		tt.change(&other)
		if got := base.Equal(&other); got != tt.equal {
			t.Errorf("%s: Equal = %v, want %v", tt.name, got, tt.equal)
		}
	}
}
