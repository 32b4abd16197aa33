package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/internal/await"
	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/internal/feishutest"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

// The conversations a sequence acts in: goals and messages in the chats,
// tasks in all three scopes.
var seqScopes = []struct{ scopeType, id string }{{"chat", "oc_a"}, {"chat", "oc_b"}, {"user", "ou_c"}}

// seqConfig turns the rate limit off (a sequence makes a few hundred
// requests in a few fake seconds) and keeps finished tasks two days, so
// that sequences see them purged.
const (
	seqConfig    = "bots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    rate_limit_per_minute: 0\n    task_retention: 48h\n"
	seqRetention = 48 * time.Hour
)

// Every schedule lies hours or days past the clock (RUN_AT stands for
// three hours on), which moves a second per operation, so nothing runs
// until a fire operation moves the clock to it and waits for what is due:
// what the server holds is what the operations made of it, and so is a
// restart's.
var (
	seqCreates = []string{
		`"action":"send_text","text":"daily","cron":"0 9 * * *"`,
		`"action":"send_text","text":"once","run_at":"RUN_AT"`,
		`"action":"send_text","text":"weekdays","title":"Stand-up","cron":"30 8 * * 1-5","timezone":"Asia/Shanghai"`,
		`"action":"send_text","text":"bad","cron":"61 * * * *"`,
		`"action":"run_llm","prompt":"summarise","cron":"0 18 * * *"`, // no agent configured: refused
		`"action":"send_text","text":"thrice","cron":"0 12 * * *","max_runs":3`,
	}
	seqPatches = []string{
		`{"status":"paused"}`,
		`{"status":"active"}`,
		`{"status":"cancelled"}`,
		`{"status":"completed"}`,
		`{"cron":"15 7 * * *","run_at":null}`,
		`{"run_at":"RUN_AT","cron":null}`,
		`{"text":"changed","title":"Renamed"}`,
		`{"cron":"not a cron"}`,
	}
	seqGoalWrites = []call{
		{method: "POST", path: "/api/v1/goal", body: `{"objective":"ship it"}`},
		{method: "POST", path: "/api/v1/goal", body: `{"description":"with a deadline","deadline_in":"48h"}`},
		{method: "POST", path: "/api/v1/goal/pause"},
		{method: "POST", path: "/api/v1/goal/resume"},
		{method: "POST", path: "/api/v1/goal/complete"},
		{method: "POST", path: "/api/v1/goal/delay", body: `{"duration":"30m","reason":"waiting for CI"}`},
		{method: "POST", path: "/api/v1/goal/delay", body: `{"duration":"13h","reason":"too long"}`},
		{method: "DELETE", path: "/api/v1/goal"},
	}
	seqListFilters = []string{"", "status=active", "status=paused", "status=cancelled", "scope_type=chat&scope_id=oc_a", "scope_type=user&scope_id=ou_c&status=active"}
)

// seqModel is what the acknowledged answers of a sequence say the server
// holds.
type seqModel struct {
	tasks    map[string]alice.Task // by id; a deleted or purged task is absent
	finished map[string]time.Time  // when each completed or cancelled task first finished
	created  []string              // every id ever answered, deleted ones too, to aim at
	goals    map[string]*alice.Goal
	texts    int // occurrences of send_text tasks that ran
}

// put records task as answered at now: a finished task is kept from when
// it first finished until seqRetention has passed.
func (m *seqModel) put(task alice.Task, now time.Time) {
	m.tasks[task.ID] = task
	switch _, ok := m.finished[task.ID]; {
	case !task.Status.Terminal():
		delete(m.finished, task.ID)
	case !ok:
		m.finished[task.ID] = now
	}
}

func (m *seqModel) remove(id string) {
	delete(m.tasks, id)
	delete(m.finished, id)
}

func (m *seqModel) pick(arg byte) string {
	if len(m.created) == 0 {
		return "task_01jhmk1sm0bkjcjnbkv09hm1jz" // never created
	}
	return m.created[int(arg)%len(m.created)]
}

// count is how many tasks of the model a list with the given filter holds.
func (m *seqModel) count(filter string) int {
	q, _ := url.ParseQuery(filter)
	n := 0
	for _, t := range m.tasks {
		if (q.Get("status") == "" || string(t.Status) == q.Get("status")) &&
			(q.Get("scope_type") == "" || string(t.ScopeType) == q.Get("scope_type") && t.ScopeID == q.Get("scope_id")) {
			n++
		}
	}
	return n
}

// FuzzOperationSequences runs any sequence of goal, task, message and list
// requests, moves of the clock to the next due time, and restarts against
// a real server (badger on disk, actors, HTTP on loopback) and holds it to
// what its clients rely on: no answer is a 5xx (every answer also meets
// the OpenAPI document, as in every test here); a read returns what the
// last acknowledged write answered; a list's X-Total-Count is the number
// of tasks its filter matches; what is due runs once and nothing else
// changes (seqFire); the stopped store passes Check with the model's task
// count; and a restarted server answers every read byte for byte as
// before, and goes on from there.
//
// Each operation is two bytes of the input: which operation, and an
// argument choosing the conversation, the variant and the task aimed at.
// The bot sends through its local outbox, or, with feishu, through a local
// server speaking Feishu's protocol: then an occurrence commits after its
// send, notices go out after their commits, and the platform must have
// got each occurrence's text once.
func FuzzOperationSequences(f *testing.F) {
	seeds := [][]byte{
		{0, 0, 1, 2, 2, 0, 6, 0, 6, 1, 3, 4, 8, 9, 11, 0},
		{0, 1, 0, 3, 1, 0, 1, 6, 2, 2, 6, 4, 7, 1, 3, 1, 5, 1, 9, 0, 10, 1},
		{1, 0, 1, 2, 2, 1, 2, 3, 3, 5, 6, 3, 6, 5, 6, 7, 10, 2, 11, 3, 4, 0, 12, 1},
		{6, 0, 6, 2, 6, 4, 6, 6, 8, 0, 8, 2, 2, 7, 2, 9, 0, 0, 7, 2, 4, 2, 5, 5},
		// Four creates, a goal with a deadline and a delay, then clock move
		// after clock move: the goal's wake, the cron tasks day after day,
		// the weekday one over a weekend, the max_runs one to completed and
		// two days later purged, and the goal's deadline.
		{0, 0, 0, 3, 0, 7, 0, 16, 6, 2, 6, 10, 13, 0, 13, 0, 13, 0, 5, 0, 5, 1, 13, 0, 13, 0, 13, 0, 13, 0, 13, 0, 9, 0, 13, 0,
			13, 0, 13, 0, 13, 0, 13, 0, 13, 0, 13, 0, 13, 0, 13, 0, 11, 0},
		// Restarts between creates, a pause, a goal and its delay, and clock
		// moves: what was due before a restart runs once after it.
		{0, 0, 0, 4, 0, 16, 2, 0, 14, 0, 13, 0, 14, 0, 6, 0, 6, 10, 14, 0, 13, 0, 13, 0, 2, 5, 14, 0, 13, 0, 12, 0},
		// Every create, patch and goal write once, then every list.
		{0, 0, 0, 3, 0, 7, 0, 9, 0, 12, 0, 15, 2, 0, 2, 5, 2, 10, 2, 15, 2, 20, 2, 25, 2, 30, 2, 35,
			6, 0, 6, 2, 6, 4, 6, 6, 6, 8, 6, 10, 6, 12, 6, 14, 11, 0, 11, 1, 11, 2, 11, 3, 11, 4, 11, 5},
	}
	for _, program := range seeds {
		f.Add(false, program)
		f.Add(true, program)
	}
	f.Fuzz(func(t *testing.T, feishu bool, program []byte) {
		const maxOps = 40
		if len(program) > 2*maxOps {
			program = program[:2*maxOps]
		}
		clock := fakeclock.New(time.Date(2025, 1, 15, 9, 0, 30, 0, time.UTC))
		dir := t.TempDir()
		cfg := seqConfig
		var platform *feishutest.Server
		if feishu {
			platform = feishutest.New("cli_seq", "seq-secret")
			t.Cleanup(platform.Close) // after the servers' own cleanups
			cfg += fmt.Sprintf("    feishu: {app_id: cli_seq, app_secret: seq-secret, base_url: %q}\n", platform.URL)
		}
		in := start(t, dir, cfg, Options{Clock: clock})
		m := &seqModel{tasks: map[string]alice.Task{}, finished: map[string]time.Time{}, goals: map[string]*alice.Goal{}}
		runAt := func(body string) string {
			return strings.ReplaceAll(body, "RUN_AT", clock.Now().Add(3*time.Hour).Format(time.RFC3339))
		}

		for i := 0; i+1 < len(program); i += 2 {
			// The second this operation takes may reach what is due.
			clock.Advance(time.Second)
			if !seqNext(clock.Now(), m).After(clock.Now()) {
				seqFire(t, in, clock.Now(), m)
			}
			op, arg := program[i], program[i+1]
			scope := seqScopes[int(arg)%len(seqScopes)]
			chat := seqScopes[int(arg)%2].id
			switch op % 15 {
			case 0, 1: // create a task, with an Idempotency-Key for op 1
				c := call{method: "POST", path: tasksPath, conv: chat,
					body: fmt.Sprintf(`{"scope_type":%q,"scope_id":%q,%s}`, scope.scopeType, scope.id, runAt(seqCreates[int(arg/3)%len(seqCreates)]))}
				if op%15 == 1 {
					c.header = map[string]string{"Idempotency-Key": fmt.Sprintf("key-%d", arg%4)}
				}
				if a := seqDo(t, in, c); a.status/100 == 2 {
					var task alice.Task
					a.json(t, &task)
					if !slices.Contains(m.created, task.ID) { // not a repeat of an earlier create
						m.put(task, clock.Now())
						m.created = append(m.created, task.ID)
					}
				}
			case 2, 3: // patch a task
				id := m.pick(arg)
				c := call{method: "PATCH", path: tasksPath + "/" + id, conv: chat, body: runAt(seqPatches[int(arg/5)%len(seqPatches)])}
				if a := seqDo(t, in, c); a.status == 200 {
					var task alice.Task
					a.json(t, &task)
					m.put(task, clock.Now())
				}
			case 4: // delete a task
				id := m.pick(arg)
				if a := seqDo(t, in, call{method: "DELETE", path: tasksPath + "/" + id, conv: chat}); a.status/100 == 2 {
					m.remove(id)
				}
			case 5: // read a task
				id := m.pick(arg)
				seqExpectTask(t, in, m, id)
			case 6, 7, 8: // a goal write
				c := seqGoalWrites[int(arg/2)%len(seqGoalWrites)]
				c.conv = chat
				a := seqDo(t, in, c)
				switch {
				case a.status == 204:
					m.goals[chat] = nil
				case a.status/100 == 2:
					var g alice.Goal
					a.json(t, &g)
					if g.Status == alice.GoalInProgress || g.Status == alice.GoalPaused {
						m.goals[chat] = &g
					} else {
						m.goals[chat] = nil // shown once, in the answer that ended it
					}
				}
			case 9: // read a goal
				seqExpectGoal(t, in, m, chat)
			case 10: // send a file
				ct, body := multipartBody(t, part{name: "file", filename: "notes.txt", data: []byte("hello")}, part{name: "caption", data: []byte(fmt.Sprint("note ", i))})
				c := call{method: "POST", path: "/api/v1/messages/file", body: string(body), conv: chat, header: map[string]string{"Content-Type": ct}}
				if a := seqDo(t, in, c); a.status != 200 {
					t.Fatalf("send a file to %s: %d %s", chat, a.status, a.body)
				}
			case 11, 12: // list tasks
				filter := seqListFilters[int(arg)%len(seqListFilters)]
				seqExpectList(t, in, m, filter)
			case 13: // move the clock to the next due time and run what is due
				if next := seqNext(clock.Now(), m); next.After(clock.Now()) {
					clock.Set(next)
				}
				seqFire(t, in, clock.Now(), m)
			case 14: // stop, check and restart the server
				in = seqRestart(t, in, dir, cfg, clock, m)
			}
			// A write can make something due at once: a one-shot task
			// re-activated after its run_at passed while it was paused.
			if !seqNext(clock.Now(), m).After(clock.Now()) {
				seqFire(t, in, clock.Now(), m)
			}
		}

		for _, id := range m.created {
			seqExpectTask(t, in, m, id)
		}
		for _, s := range seqScopes[:2] {
			seqExpectGoal(t, in, m, s.id)
		}
		for _, filter := range seqListFilters {
			seqExpectList(t, in, m, filter)
		}
		seqRestart(t, in, dir, cfg, clock, m)
		if platform != nil {
			seqExpectSent(t, platform, m)
		}
	})
}

// seqExpectSent checks that the platform was asked to send each task
// occurrence's text exactly once: the same occurrence may be retried, but
// under its one uuid.
func seqExpectSent(t *testing.T, platform *feishutest.Server, m *seqModel) {
	t.Helper()
	// Every text a create or a patch can give a task, read from the
	// bodies themselves so that a new or changed one is counted too.
	bodies := slices.Clone(seqPatches)
	for _, c := range seqCreates {
		bodies = append(bodies, "{"+c+"}")
	}
	taskTexts := map[string]bool{}
	for _, b := range bodies {
		var v struct{ Text string }
		if err := json.Unmarshal([]byte(b), &v); err != nil {
			t.Fatal(err)
		}
		if v.Text != "" {
			taskTexts[v.Text] = true
		}
	}
	uuids := map[string]bool{}
	for _, r := range platform.Requests() {
		var content struct{ Text string }
		if r.Path != "/open-apis/im/v1/messages" || r.Fields["msg_type"] != "text" || json.Unmarshal([]byte(r.Fields["content"]), &content) != nil || !taskTexts[content.Text] {
			continue
		}
		if r.Fields["uuid"] == "" {
			t.Fatalf("a task's text went out without a uuid: %+v", r)
		}
		uuids[r.Fields["uuid"]] = true
	}
	if len(uuids) != m.texts {
		t.Fatalf("the platform got %d task texts (by uuid), want one for each of the %d occurrences that ran", len(uuids), m.texts)
	}
}

// seqRestart stops the server, checks its store, and starts it again on
// the same data dir, which must answer every read as before.
func seqRestart(t *testing.T, in *instance, dir, cfg string, clock *fakeclock.Clock, m *seqModel) *instance {
	t.Helper()
	before := seqReads(t, in, m)
	in.stop()

	report, err := badgerstore.Check((&config.Config{DataDir: dir}).StoreDir(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Problems) > 0 || report.Tasks != len(m.tasks) {
		t.Fatalf("check: %d tasks, want %d; problems %q", report.Tasks, len(m.tasks), report.Problems)
	}

	again := start(t, dir, cfg, Options{Clock: clock})
	after := seqReads(t, again, m)
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("after a restart, read %d answers\n%s\nwant\n%s", i, after[i], before[i])
		}
	}
	return again
}

// seqDo sends c and fails the test on a 5xx or a refusal that is not a
// JSON error.
func seqDo(t *testing.T, in *instance, c call) answer {
	t.Helper()
	a := in.do(c)
	switch {
	case a.status >= 500:
		t.Fatalf("%s: %d %s", describe(c), a.status, a.body)
	case a.status >= 400:
		a.errorText(t)
	}
	return a
}

// seqNext is the earliest time the model says something is due: a task's
// next run or the end of its retention, a goal's wake or deadline; an hour
// on when nothing is.
func seqNext(now time.Time, m *seqModel) time.Time {
	var next time.Time
	earlier := func(at *time.Time) {
		if at != nil && (next.IsZero() || at.Before(next)) {
			next = *at
		}
	}
	for _, task := range m.tasks {
		if task.Status == alice.TaskActive {
			earlier(task.NextRunAt)
		}
	}
	for _, at := range m.finished {
		end := at.Add(seqRetention)
		earlier(&end)
	}
	for _, g := range m.goals {
		if g != nil {
			earlier(g.DeadlineAt)
			earlier(g.NextWakeAt)
		}
	}
	if next.IsZero() {
		return now.Add(time.Hour)
	}
	return next
}

// taskDue says whether task is due by now.
func taskDue(task alice.Task, now time.Time) bool {
	return task.Status == alice.TaskActive && task.NextRunAt != nil && !task.NextRunAt.After(now)
}

// seqFire runs what is due by the clock's now. Each active task due then
// must run exactly once, a run it records, and end active with a later
// next run or completed; a finished task past its retention must be gone;
// every other task must be as it was; a goal past its deadline must be
// gone, any other the same goal in the same status. The answers then
// become the model.
func seqFire(t *testing.T, in *instance, now time.Time, m *seqModel) {
	t.Helper()
	in.srv.runtime.RunDue(context.Background())

	for id, was := range m.tasks {
		if at, ok := m.finished[id]; ok && !at.Add(seqRetention).After(now) {
			await.Until(t, 10*time.Second, "task "+id+", finished at "+at.String()+", to be purged", func() bool {
				return seqDo(t, in, call{method: "GET", path: tasksPath + "/" + id}).status == 404
			})
			m.remove(id)
			continue
		}
		if !taskDue(was, now) {
			seqExpectTask(t, in, m, id)
			continue
		}
		var got alice.Task
		await.Until(t, 10*time.Second, "task "+id+" due at "+was.NextRunAt.String()+" to run", func() bool {
			got = in.task(call{method: "GET", path: tasksPath + "/" + id}, 200)
			return got.RunCount != was.RunCount
		})
		ran := got.RunCount == was.RunCount+1 && got.LastRunAt != nil && !got.LastRunAt.Before(*was.NextRunAt)
		switch {
		case got.Status == alice.TaskActive && ran && got.NextRunAt != nil && got.NextRunAt.After(now) && (got.MaxRuns == 0 || got.RunCount < got.MaxRuns):
		case got.Status == alice.TaskCompleted && ran && got.NextRunAt == nil && (got.Cron == "" || got.RunCount == got.MaxRuns):
		default:
			t.Fatalf("task due at %s, now %s, went from %+v\nto %+v", was.NextRunAt, now, was, got)
		}
		a := seqDo(t, in, call{method: "GET", path: tasksPath + "/" + id + "/runs"})
		if total := a.header.Get("X-Total-Count"); a.status != 200 || total != fmt.Sprint(got.RunCount) {
			t.Fatalf("runs of task %s: %d, X-Total-Count %q, want %d", id, a.status, total, got.RunCount)
		}
		if got.Action == alice.ActionSendText {
			m.texts++
		}
		m.put(got, now)
	}
	for chat, g := range m.goals {
		if g == nil {
			continue
		}
		if g.DeadlineAt != nil && !g.DeadlineAt.After(now) {
			await.Until(t, 10*time.Second, "the goal of "+chat+" to time out", func() bool {
				return seqDo(t, in, call{method: "GET", path: "/api/v1/goal", conv: chat}).status == 204
			})
			m.goals[chat] = nil
			continue
		}
		got := in.goal(call{method: "GET", path: "/api/v1/goal", conv: chat}, 200)
		if got.ID != g.ID || got.Status != g.Status {
			t.Fatalf("goal of %s after firing: %+v, want %s still %s", chat, got, g.ID, g.Status)
		}
		m.goals[chat] = &got
	}
}

func seqExpectTask(t *testing.T, in *instance, m *seqModel, id string) {
	t.Helper()
	var want *alice.Task
	if task, ok := m.tasks[id]; ok {
		want = &task
	}
	seqExpect(t, in, call{method: "GET", path: tasksPath + "/" + id}, want, 404)
}

func seqExpectGoal(t *testing.T, in *instance, m *seqModel, chat string) {
	t.Helper()
	seqExpect(t, in, call{method: "GET", path: "/api/v1/goal", conv: chat}, m.goals[chat], 204)
}

// seqExpect fails the test unless c answers 200 with want, or, when want
// is nil, the status absent.
func seqExpect[T any](t *testing.T, in *instance, c call, want *T, absent int) {
	t.Helper()
	a := seqDo(t, in, c)
	if want == nil {
		if a.status != absent {
			t.Fatalf("%s: %d %s, want %d", describe(c), a.status, a.body, absent)
		}
		return
	}
	if a.status != 200 {
		t.Fatalf("%s: %d %s, want 200", describe(c), a.status, a.body)
	}
	var got T
	a.json(t, &got)
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("%s = %+v\nwant the last answer %+v", describe(c), got, *want)
	}
}

func seqExpectList(t *testing.T, in *instance, m *seqModel, filter string) {
	t.Helper()
	want := m.count(filter)
	list := in.tasks(tasksPath+"?limit=200&"+filter, want)
	if len(list) != want {
		t.Fatalf("list ?%s: %d tasks, want %d", filter, len(list), want)
	}
	for _, got := range list {
		if !reflect.DeepEqual(got, m.tasks[got.ID]) {
			t.Fatalf("list ?%s holds %+v\nwant the last answer %+v", filter, got, m.tasks[got.ID])
		}
	}
}

// seqReads is what a restart must not change, as answered: every list of
// tasks, each task's runs, and each chat's goal and messages.
func seqReads(t *testing.T, in *instance, m *seqModel) []string {
	t.Helper()
	var out []string
	read := func(c call) {
		a := seqDo(t, in, c)
		out = append(out, fmt.Sprintf("%s %s: %d total %q %s", c.method, c.path, a.status, a.header.Get("X-Total-Count"), a.body))
	}
	for _, filter := range seqListFilters {
		read(call{method: "GET", path: tasksPath + "?limit=200&" + filter})
	}
	for _, id := range m.created { // in a fixed order, as the model's map is not
		if _, ok := m.tasks[id]; ok {
			read(call{method: "GET", path: tasksPath + "/" + id + "/runs?limit=200"})
		}
	}
	for _, s := range seqScopes[:2] {
		read(call{method: "GET", path: "/api/v1/goal", conv: s.id})
		read(call{method: "GET", path: "/api/v1/messages?limit=200", conv: s.id})
	}
	return out
}
