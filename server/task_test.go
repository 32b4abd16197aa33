package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/fakeclock"
)

const tasksPath = "/api/v1/automation/tasks"

func (in *instance) task(c call, want int) alice.Task {
	in.t.Helper()
	a := in.do(c)
	if a.status != want {
		in.t.Fatalf("%s: status %d, want %d (body %s)", describe(c), a.status, want, a.body)
	}
	var task alice.Task
	a.json(in.t, &task)
	return task
}

func (in *instance) tasks(path string, wantTotal int) []alice.Task {
	in.t.Helper()
	a := in.do(call{method: "GET", path: path})
	if a.status != 200 {
		in.t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	if got := a.header.Get("X-Total-Count"); got != fmt.Sprint(wantTotal) {
		in.t.Fatalf("GET %s: X-Total-Count %q, want %d", path, got, wantTotal)
	}
	var list []alice.Task
	a.json(in.t, &list)
	return list
}

func taskIDs(ts []alice.Task) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}

func TestTaskCRUD(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	in := start(t, dir, "timezone: Asia/Shanghai\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n", Options{Clock: clock})

	if list := in.tasks(tasksPath, 0); len(list) != 0 {
		t.Fatalf("empty list = %v", list)
	}
	a := in.do(call{method: "POST", path: tasksPath, body: `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"Stand-up in 5 minutes","cron":"55 9 * * 1-5"}`})
	if a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var created alice.Task
	a.json(t, &created)
	if a.header.Get("Location") != tasksPath+"/"+created.ID || !strings.HasPrefix(created.ID, "task_") {
		t.Fatalf("Location %q for %s", a.header.Get("Location"), created.ID)
	}
	// 09:55 in Shanghai on Wednesday 15 January 2025 is 01:55 UTC on the 16th.
	if created.Status != alice.TaskActive || created.NextRunAt == nil || !created.NextRunAt.Equal(time.Date(2025, 1, 16, 1, 55, 0, 0, time.UTC)) {
		t.Fatalf("created = %+v", created)
	}
	if !strings.Contains(string(a.body), `"created_at":"2025-01-15T09:00:00Z"`) || strings.Contains(string(a.body), "last_run_at") || strings.Contains(string(a.body), "null") {
		t.Fatalf("task JSON %s: want RFC 3339 UTC and no empty fields", a.body)
	}
	if got := in.task(call{method: "GET", path: tasksPath + "/" + created.ID}, 200); got.ID != created.ID || got.Text != created.Text {
		t.Fatalf("get = %+v", got)
	}

	// More tasks in two conversations, for paging and filters.
	var ids []string
	ids = append(ids, created.ID)
	for i := 0; i < 4; i++ {
		clock.Advance(time.Millisecond)
		scope := `"scope_type":"chat","scope_id":"oc_1"`
		if i%2 == 1 {
			scope = `"scope_type":"user","scope_id":"ou_2"`
		}
		ids = append(ids, in.task(call{method: "POST", path: tasksPath, body: `{` + scope + `,"action":"send_text","text":"t","run_at":"2030-01-01T00:00:00Z"}`}, 201).ID)
	}
	if got := taskIDs(in.tasks(tasksPath, 5)); fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("list order %v, want creation order %v", got, ids)
	}
	if got := taskIDs(in.tasks(tasksPath+"?limit=2&offset=1", 5)); fmt.Sprint(got) != fmt.Sprint(ids[1:3]) {
		t.Fatalf("page = %v, want %v", got, ids[1:3])
	}
	if got := in.tasks(tasksPath+"?scope_type=user&scope_id=ou_2", 2); len(got) != 2 || got[0].ScopeID != "ou_2" {
		t.Fatalf("scope filter = %v", got)
	}
	if got := in.tasks(tasksPath+"?scope_type=chat", 3); len(got) != 3 {
		t.Fatalf("scope type filter = %v", got)
	}

	// Patch: cancel, then the status filter sees it.
	clock.Advance(time.Minute)
	patched := in.task(call{method: "PATCH", path: tasksPath + "/" + ids[1], body: `{"status":"cancelled","text":"changed"}`, header: map[string]string{"Content-Type": "application/merge-patch+json"}}, 200)
	if patched.Status != alice.TaskCancelled || patched.Text != "changed" || patched.NextRunAt != nil || !patched.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("patched = %+v", patched)
	}
	if got := taskIDs(in.tasks(tasksPath+"?status=cancelled", 1)); fmt.Sprint(got) != fmt.Sprint(ids[1:2]) {
		t.Fatalf("cancelled = %v", got)
	}
	in.tasks(tasksPath+"?status=active", 4)
	in.tasks(tasksPath+"?status=completed", 0)

	// Delete: gone from get, list and patch.
	if a := in.do(call{method: "DELETE", path: tasksPath + "/" + ids[2]}); a.status != 204 {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	for _, c := range []call{
		{method: "GET", path: tasksPath + "/" + ids[2]},
		{method: "PATCH", path: tasksPath + "/" + ids[2], body: `{"text":"x"}`},
		{method: "DELETE", path: tasksPath + "/" + ids[2]},
		{method: "GET", path: tasksPath + "/" + ids[2] + "/runs"},
		{method: "GET", path: tasksPath + "/task_doesnotexist"},
	} {
		a := in.do(c)
		if a.status != 404 || a.errorText(t) != "task not found" {
			t.Fatalf("%s: %d %s, want 404 task not found", describe(c), a.status, a.body)
		}
	}
	in.tasks(tasksPath, 4)

	// Restart: every task is as last acknowledged.
	before := in.tasks(tasksPath, 4)
	in.stop()
	in = start(t, dir, "timezone: Asia/Shanghai\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n", Options{Clock: clock})
	after := in.tasks(tasksPath, 4)
	for i := range before {
		if fmt.Sprintf("%+v", before[i]) != fmt.Sprintf("%+v", after[i]) {
			t.Fatalf("after restart task %d = %+v, want %+v", i, after[i], before[i])
		}
	}
}

func TestTaskRequestsRefused(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	id := in.task(call{method: "POST", path: tasksPath, body: `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","run_at":"2030-01-01T00:00:00Z"}`}, 201).ID
	tests := []struct {
		name string
		c    call
		want string
	}{
		{"unknown field", call{method: "POST", path: tasksPath, body: `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","repeat":true}`}, `unknown field "repeat"`},
		{"wrong type", call{method: "POST", path: tasksPath, body: `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":42}`}, `field "text" must be a string`},
		{"not an object", call{method: "POST", path: tasksPath, body: `[1]`}, "must be a JSON object"},
		{"both schedules", call{method: "POST", path: tasksPath, body: `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"@daily","run_at":"2030-01-01T00:00:00Z"}`}, "cannot both be set"},
		{"run_llm without llm", call{method: "POST", path: tasksPath, body: `{"scope_type":"chat","scope_id":"oc_1","action":"run_llm","prompt":"p"}`}, "configure bots.main.llm"},
		{"unknown workflow", call{method: "POST", path: tasksPath, body: `{"scope_type":"chat","scope_id":"oc_1","action":"run_workflow","workflow":"w"}`}, `workflow "w" is not defined`},
		{"patch immutable", call{method: "PATCH", path: tasksPath + "/" + id, body: `{"scope_id":"oc_2"}`}, "scope_id cannot be changed"},
		{"patch unknown", call{method: "PATCH", path: tasksPath + "/" + id, body: `{"owner":"me"}`}, `unknown field "owner"`},
		{"patch non-object", call{method: "PATCH", path: tasksPath + "/" + id, body: `"cancelled"`}, "must be a JSON object"},
		{"patch null cron and run_at is fine but text null is not", call{method: "PATCH", path: tasksPath + "/" + id, body: `{"text":null}`}, "needs a non-empty text"},
		{"limit too big", call{method: "GET", path: tasksPath + "?limit=201"}, "limit"},
		{"limit zero", call{method: "GET", path: tasksPath + "?limit=0"}, "limit"},
		{"negative offset", call{method: "GET", path: tasksPath + "?offset=-1"}, "offset"},
		{"bad status", call{method: "GET", path: tasksPath + "?status=done"}, `status "done"`},
		{"unknown parameter", call{method: "GET", path: tasksPath + "?stauts=active"}, `unknown query parameter "stauts"`},
		{"scope id without type", call{method: "GET", path: tasksPath + "?scope_id=oc_1"}, "scope_type must be chat or user"},
		{"runs limit", call{method: "GET", path: tasksPath + "/" + id + "/runs?limit=500"}, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := in.do(tt.c)
			if a.status != 400 {
				t.Fatalf("status %d (%s), want 400", a.status, a.body)
			}
			if msg := a.errorText(t); !strings.Contains(msg, tt.want) {
				t.Fatalf("error %q does not mention %q", msg, tt.want)
			}
		})
	}
	// Nothing refused was written.
	in.tasks(tasksPath, 1)
}

func TestAutomationPermissionGatesWritesOnly(t *testing.T) {
	dir := t.TempDir()
	in := start(t, dir, "", Options{})
	id := in.task(call{method: "POST", path: tasksPath, body: `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","run_at":"2030-01-01T00:00:00Z"}`}, 201).ID
	in.stop()

	in = start(t, dir, "bots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    permissions: {runtime_automation: false}\n", Options{})
	for _, c := range []call{
		{method: "POST", path: tasksPath, body: `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi"}`},
		{method: "PATCH", path: tasksPath + "/" + id, body: `{"status":"cancelled"}`},
		{method: "DELETE", path: tasksPath + "/" + id},
	} {
		a := in.do(c)
		if a.status != 403 || !strings.Contains(a.errorText(t), "permissions.runtime_automation") {
			t.Fatalf("%s: %d %s, want 403 naming the permission", describe(c), a.status, a.body)
		}
	}
	if got := in.task(call{method: "GET", path: tasksPath + "/" + id}, 200); got.Status != alice.TaskActive {
		t.Fatalf("a refused write changed the task: %+v", got)
	}
	in.tasks(tasksPath, 1)
	if a := in.do(call{method: "GET", path: tasksPath + "/" + id + "/runs"}); a.status != 200 {
		t.Fatalf("runs with automation off: %d", a.status)
	}
}
