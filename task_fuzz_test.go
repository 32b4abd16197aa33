package alice

import (
	"encoding/json"
	"testing"
	"time"
)

var fuzzTaskSeeds = []string{
	`{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi {{now}}"}`,
	`{"scope_type":"user","scope_id":"ou_1","action":"send_text","text":"hi","cron":"55 9 * * 1-5","timezone":"America/New_York"}`,
	`{"scope_type":"chat","scope_id":"oc_1","action":"run_llm","prompt":"p","cron":"@every 90s","max_runs":3,"title":"t"}`,
	`{"scope_type":"chat","scope_id":"oc_1","action":"run_workflow","workflow":"digest","run_at":"2025-01-16T09:00:00"}`,
	`{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"x","run_at":"9999-12-31T23:59:59-23:59"}`,
	`{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"x","run_at":"0001-01-01T00:00:00+23:59"}`,
	`{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"x","cron":"0 0 30 2 *"}`,
	`{"scope_type":"chat","scope_id":" ","action":"send_text","text":"x","cron":"TZ=UTC 0 9 * * *"}`,
}

// checkTask asserts what every accepted task must satisfy: it validates,
// it encodes to JSON (no timestamp out of range), and a next run, if any,
// is not before its creation minus the run_at rule's "in the past runs at
// once".
func checkTask(t *testing.T, task *Task, rules TaskRules) {
	t.Helper()
	if err := task.validate(rules); err != nil {
		t.Fatalf("an accepted task does not validate: %v (%+v)", err, task)
	}
	if _, err := json.Marshal(task); err != nil {
		t.Fatalf("an accepted task does not encode: %v (%+v)", err, task)
	}
	if task.Status == TaskActive && task.NextRunAt == nil {
		t.Fatalf("an active task has no next run: %+v", task)
	}
}

// refusedCleanly asserts that err is one of the domain's invalid-input
// errors, not an accident.
func refusedCleanly(t *testing.T, err error) {
	t.Helper()
	if c := ErrorCode(err); c != EInvalid && c != EConflict {
		t.Fatalf("refused with %v (%s); want an invalid-input error", err, c)
	}
	if len(err.Error()) > 1024 {
		t.Fatalf("error of %d bytes: it quotes too much of the input", len(err.Error()))
	}
}

// FuzzNewTask: any create body is either a valid task or a clean 400.
func FuzzNewTask(f *testing.F) {
	for _, s := range fuzzTaskSeeds {
		f.Add([]byte(s))
	}
	rules := testRules()
	f.Fuzz(func(t *testing.T, body []byte) {
		var in TaskInput
		if json.Unmarshal(body, &in) != nil {
			return
		}
		task, err := NewTask(in, rules, "task_x", testNow)
		if err != nil {
			refusedCleanly(t, err)
			return
		}
		checkTask(t, task, rules)
	})
}

// FuzzPatchTask: any merge patch of any valid task, fresh or after a run,
// gives a valid task or a clean 400, and never a spent one-shot task
// active again without a new run_at.
func FuzzPatchTask(f *testing.F) {
	patches := []string{`{"status":"paused"}`, `{"status":"active"}`, `{"cron":null,"run_at":"2030-01-01T00:00:00Z"}`,
		`{"run_at":null}`, `{"max_runs":null,"title":""}`, `{"timezone":"Mars/Base"}`, `{"status":"cancelled","cron":"@hourly"}`}
	for i, s := range fuzzTaskSeeds {
		f.Add([]byte(s), []byte(patches[i%len(patches)]), i%2 == 0)
	}
	rules := testRules()
	f.Fuzz(func(t *testing.T, base, patch []byte, ran bool) {
		var in, p TaskInput
		if json.Unmarshal(base, &in) != nil || json.Unmarshal(patch, &p) != nil {
			return
		}
		task, err := NewTask(in, rules, "task_x", testNow)
		if err != nil {
			return
		}
		ts := &TaskState{Task: *task}
		if ran && task.Cron == "" {
			// The one-shot ran: completed, its run_at spent.
			ts.Status, ts.RunCount, ts.NextRunAt = TaskCompleted, 1, nil
		}
		later := testNow.Add(time.Hour)
		got, err := PatchTask(ts, p, rules, later)
		if err != nil {
			refusedCleanly(t, err)
			return
		}
		checkTask(t, got, rules)
		if ran && got.Cron == "" && got.Status == TaskActive && !p.RunAt.Set {
			t.Fatalf("a spent one-shot task is active again without a new run_at: %+v", got)
		}
	})
}
