// Package contracttest is one suite of the behaviour every implementation of
// package alice's services must show. It runs against the actor runtime
// in-process (actors) and against the Go client talking to a real server
// (client): one suite, two implementations.
package contracttest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/await"
	"github.com/alice-runtime/alice/internal/testimages"
)

// Open returns fresh services of one bot named "main" whose messages go to
// the local outbox, with the automation and message permissions on and the
// rate limit off.
type Open func(t *testing.T) alice.Services

// Run runs the suite; each test gets services of its own.
func Run(t *testing.T, open Open) {
	for _, tt := range []struct {
		name string
		test func(*testing.T, alice.Services)
	}{
		{"GoalLifecycle", goalLifecycle},
		{"GoalIdempotency", goalIdempotency},
		{"GoalDelay", goalDelay},
		{"GoalDeadline", goalDeadline},
		{"Conversations", conversations},
		{"Tasks", tasks},
		{"TaskRuns", taskRuns},
		{"Messages", messages},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open(t)) })
	}
}

var ctx = context.Background()

func chat(id string) alice.Conversation {
	return alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: id}
}

// wantCode fails unless err is of kind code.
func wantCode(t *testing.T, what string, err error, code alice.Code) {
	t.Helper()
	if alice.ErrorCode(err) != code {
		t.Fatalf("%s: %v (%s), want %s", what, err, alice.ErrorCode(err), code)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func goalLifecycle(t *testing.T, s alice.Services) {
	c := chat("oc_goal")
	if g, err := s.GetGoal(ctx, c); err != nil || g != nil {
		t.Fatalf("no goal yet: %+v, %v", g, err)
	}
	created := must[*alice.Goal](t, "create")(s.CreateGoal(ctx, c, alice.GoalCreate{Description: "Review PR #42"}))
	if created.Status != alice.GoalInProgress || !strings.HasPrefix(created.ID, "goal_") || created.Description != "Review PR #42" {
		t.Fatalf("created = %+v", created)
	}
	_, err := s.CreateGoal(ctx, c, alice.GoalCreate{Description: "another"})
	wantCode(t, "second create", err, alice.EConflict)
	_, err = s.CreateGoal(ctx, chat("oc_goal2"), alice.GoalCreate{Description: " "})
	wantCode(t, "blank description", err, alice.EInvalid)
	if g := must[*alice.Goal](t, "pause")(s.PauseGoal(ctx, c)); g.Status != alice.GoalPaused || g.ID != created.ID {
		t.Fatalf("paused = %+v", g)
	}
	_, err = s.PauseGoal(ctx, c)
	wantCode(t, "pause twice", err, alice.EConflict)
	if g := must[*alice.Goal](t, "resume")(s.ResumeGoal(ctx, c)); g.Status != alice.GoalInProgress {
		t.Fatalf("resumed = %+v", g)
	}
	done := must[*alice.Goal](t, "complete")(s.CompleteGoal(ctx, c))
	if done.Status != alice.GoalCompleted || done.CompletedAt == nil {
		t.Fatalf("completed = %+v", done)
	}
	if g, err := s.GetGoal(ctx, c); err != nil || g != nil {
		t.Fatalf("after complete: %+v, %v; want no active goal", g, err)
	}
	_, err = s.CompleteGoal(ctx, c)
	wantCode(t, "complete with none active", err, alice.ENotFound)
	must[*alice.Goal](t, "create again")(s.CreateGoal(ctx, c, alice.GoalCreate{Description: "Ship"}))
	if err := s.DeleteGoal(ctx, c); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete with none active", s.DeleteGoal(ctx, c), alice.ENotFound)
}

func goalIdempotency(t *testing.T, s alice.Services) {
	c := chat("oc_idem")
	first := must[*alice.Goal](t, "create")(s.CreateGoal(ctx, c, alice.GoalCreate{Description: "once", IdempotencyKey: "k-1"}))
	again := must[*alice.Goal](t, "retry")(s.CreateGoal(ctx, c, alice.GoalCreate{Description: "once", IdempotencyKey: "k-1"}))
	if again.ID != first.ID {
		t.Fatalf("a retry with the same key created %s, first was %s", again.ID, first.ID)
	}
	_, err := s.CreateGoal(ctx, c, alice.GoalCreate{Description: "different", IdempotencyKey: "k-1"})
	wantCode(t, "same key, different request", err, alice.EKeyReused)
	_, err = s.CreateGoal(ctx, c, alice.GoalCreate{Description: "x", IdempotencyKey: "has space"})
	wantCode(t, "a key with a space", err, alice.EInvalid)
}

func goalDelay(t *testing.T, s alice.Services) {
	c := chat("oc_delay")
	_, err := s.DelayGoal(ctx, c, alice.GoalDelay{Duration: 8 * time.Minute, Reason: "CI"})
	wantCode(t, "delay with no goal", err, alice.ENotFound)
	must[*alice.Goal](t, "create")(s.CreateGoal(ctx, c, alice.GoalCreate{Description: "wait for CI"}))
	for _, bad := range []alice.GoalDelay{{Duration: 30 * time.Second, Reason: "r"}, {Duration: 13 * time.Hour, Reason: "r"}, {Duration: time.Minute}} {
		_, err := s.DelayGoal(ctx, c, bad)
		wantCode(t, fmt.Sprintf("delay %s %q", bad.Duration, bad.Reason), err, alice.EInvalid)
	}
	before := time.Now()
	g := must[*alice.Goal](t, "delay")(s.DelayGoal(ctx, c, alice.GoalDelay{Duration: 8 * time.Minute, Reason: "waiting for CI on PR #225"}))
	if g.NextWakeAt == nil || g.NextWakeAt.Before(before.Add(8*time.Minute-time.Second)) || g.DelayReason != "waiting for CI on PR #225" {
		t.Fatalf("delayed goal = %+v", g)
	}
	must[*alice.Goal](t, "pause")(s.PauseGoal(ctx, c))
	_, err = s.DelayGoal(ctx, c, alice.GoalDelay{Duration: 0, Reason: "continue"})
	wantCode(t, "delay a paused goal", err, alice.EConflict)
}

func goalDeadline(t *testing.T, s alice.Services) {
	c := chat("oc_deadline")
	g := must[*alice.Goal](t, "create")(s.CreateGoal(ctx, c, alice.GoalCreate{Description: "beat the clock", DeadlineIn: time.Second}))
	if g.DeadlineAt == nil || !g.DeadlineAt.Equal(g.CreatedAt.Add(time.Second)) {
		t.Fatalf("goal = %+v; want deadline_at a second after created_at", g)
	}
	await.Until(t, 10*time.Second, "the goal to time out", func() bool {
		g, err := s.GetGoal(ctx, c)
		return err == nil && g == nil
	})
	msgs, _, err := s.ListMessages(ctx, c, alice.Page{Limit: 10})
	if err != nil || len(msgs) != 1 || !strings.Contains(msgs[0].Text, "timed out") || !strings.Contains(msgs[0].Text, "beat the clock") {
		t.Fatalf("notice = %+v, %v; want one saying the goal timed out", msgs, err)
	}
}

func conversations(t *testing.T, s alice.Services) {
	must[*alice.Goal](t, "create")(s.CreateGoal(ctx, chat("oc_a"), alice.GoalCreate{Description: "a"}))
	if g, err := s.GetGoal(ctx, chat("oc_b")); err != nil || g != nil {
		t.Fatalf("oc_b sees %+v, %v", g, err)
	}
	user := alice.Conversation{ReceiveIDType: alice.ReceiveOpenID, ReceiveID: "oc_a"}
	if g, err := s.GetGoal(ctx, user); err != nil || g != nil {
		t.Fatalf("a user with the same id sees %+v, %v; user and chat scopes are apart", g, err)
	}
	_, err := s.GetGoal(ctx, alice.Conversation{ReceiveIDType: "chat_id"})
	wantCode(t, "no receive id", err, alice.EInvalid)
	_, err = s.GetGoal(ctx, alice.Conversation{ReceiveIDType: "phone", ReceiveID: "x"})
	wantCode(t, "unknown id type", err, alice.EInvalid)
}

func taskInput(scope, extra string) alice.TaskInput {
	in := alice.TaskInput{ScopeType: alice.Value("chat"), ScopeID: alice.Value(scope), Action: alice.Value("send_text"), Text: alice.Value("hi")}
	switch extra {
	case "future":
		in.RunAt = alice.Value("2099-01-01T00:00:00Z")
	case "cron":
		in.Cron = alice.Value("0 9 * * 1-5")
	}
	return in
}

func tasks(t *testing.T, s alice.Services) {
	a := must[*alice.Task](t, "create")(s.CreateTask(ctx, alice.TaskCreate{Input: taskInput("oc_t1", "future")}))
	b := must[*alice.Task](t, "create cron")(s.CreateTask(ctx, alice.TaskCreate{Input: taskInput("oc_t1", "cron")}))
	c := must[*alice.Task](t, "create elsewhere")(s.CreateTask(ctx, alice.TaskCreate{Input: taskInput("oc_t2", "future")}))
	if a.Status != alice.TaskActive || a.NextRunAt == nil || !a.NextRunAt.Equal(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("created = %+v", a)
	}
	bad := taskInput("oc_t1", "")
	bad.Cron = alice.Value("not a cron")
	_, err := s.CreateTask(ctx, alice.TaskCreate{Input: bad})
	wantCode(t, "bad cron", err, alice.EInvalid)
	if got := must[*alice.Task](t, "get")(s.GetTask(ctx, a.ID)); got.ID != a.ID || got.Text != "hi" {
		t.Fatalf("get = %+v", got)
	}
	_, err = s.GetTask(ctx, "task_missing")
	wantCode(t, "get a missing task", err, alice.ENotFound)

	ids := func(f alice.TaskFilter, p alice.Page, wantTotal int) string {
		t.Helper()
		list, total, err := s.ListTasks(ctx, f, p)
		if err != nil || total != wantTotal {
			t.Fatalf("list %+v: total %d, %v; want %d", f, total, err, wantTotal)
		}
		var out []string
		for _, task := range list {
			out = append(out, task.ID)
		}
		return fmt.Sprint(out)
	}
	if got := ids(alice.TaskFilter{}, alice.Page{Limit: 50}, 3); got != fmt.Sprint([]string{a.ID, b.ID, c.ID}) {
		t.Fatalf("all tasks = %s", got)
	}
	if got := ids(alice.TaskFilter{ScopeType: alice.ScopeChat, ScopeID: "oc_t1"}, alice.Page{Offset: 1, Limit: 1}, 2); got != fmt.Sprint([]string{b.ID}) {
		t.Fatalf("second task of oc_t1 = %s", got)
	}
	_, _, err = s.ListTasks(ctx, alice.TaskFilter{Status: "done"}, alice.Page{Limit: 50})
	wantCode(t, "an unknown status filter", err, alice.EInvalid)

	paused := must[*alice.Task](t, "pause")(s.PatchTask(ctx, b.ID, alice.TaskInput{Status: alice.Value("paused")}))
	if paused.Status != alice.TaskPaused || paused.NextRunAt != nil || paused.Cron != b.Cron {
		t.Fatalf("paused = %+v", paused)
	}
	if got := ids(alice.TaskFilter{Status: alice.TaskPaused}, alice.Page{Limit: 50}, 1); got != fmt.Sprint([]string{b.ID}) {
		t.Fatalf("paused tasks = %s", got)
	}
	swapped := must[*alice.Task](t, "swap schedule")(s.PatchTask(ctx, b.ID, alice.TaskInput{Status: alice.Value("active"), Cron: alice.Null[string](), RunAt: alice.Value("2098-01-01T00:00:00Z")}))
	if swapped.Cron != "" || swapped.RunAt == nil || swapped.Status != alice.TaskActive {
		t.Fatalf("swapped = %+v", swapped)
	}
	_, err = s.PatchTask(ctx, a.ID, alice.TaskInput{Action: alice.Value("run_llm")})
	wantCode(t, "patch the action", err, alice.EInvalid)
	if err := s.DeleteTask(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete again", s.DeleteTask(ctx, c.ID), alice.ENotFound)
	ids(alice.TaskFilter{}, alice.Page{Limit: 50}, 2)

	again := must[*alice.Task](t, "create with a key")(s.CreateTask(ctx, alice.TaskCreate{Input: taskInput("oc_t3", "future"), IdempotencyKey: "t-1"}))
	if retry := must[*alice.Task](t, "retry")(s.CreateTask(ctx, alice.TaskCreate{Input: taskInput("oc_t3", "future"), IdempotencyKey: "t-1"})); retry.ID != again.ID {
		t.Fatalf("retried create made %s, first was %s", retry.ID, again.ID)
	}
}

func taskRuns(t *testing.T, s alice.Services) {
	// A task with no schedule runs at once: this is how a skill sends text.
	task := must[*alice.Task](t, "create")(s.CreateTask(ctx, alice.TaskCreate{Input: taskInput("oc_run", "")}))
	var runs []alice.Run
	await.Until(t, 10*time.Second, "the task's run", func() bool {
		var total int
		var err error
		runs, total, err = s.TaskRuns(ctx, task.ID, alice.Page{Limit: 10})
		return err == nil && total == 1
	})
	r := runs[0]
	if r.Outcome != alice.OutcomeSucceeded || r.MessageID == "" || r.StartedAt == nil || r.OccurrenceID != alice.OccurrenceID(task.ID, r.ScheduledAt) {
		t.Fatalf("run = %+v", r)
	}
	msgs, total, err := s.ListMessages(ctx, chat("oc_run"), alice.Page{Limit: 10})
	if err != nil || total != 1 || msgs[0].ID != r.MessageID || msgs[0].Text != "hi" || msgs[0].Kind != alice.KindText {
		t.Fatalf("outbox = %+v (%d), %v", msgs, total, err)
	}
	if got := must[*alice.Task](t, "get")(s.GetTask(ctx, task.ID)); got.Status != alice.TaskCompleted || got.RunCount != 1 {
		t.Fatalf("task after its run = %+v", got)
	}
	_, _, err = s.TaskRuns(ctx, "task_missing", alice.Page{Limit: 10})
	wantCode(t, "runs of a missing task", err, alice.ENotFound)
}

func messages(t *testing.T, s alice.Services) {
	c := chat("oc_msg")
	png := testimages.Samples(t)["png"]
	img := must[string](t, "send image")(s.SendMessage(ctx, c, alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindImage, Data: png, FileName: "chart.png", Caption: "look"}}))
	file := must[string](t, "send file")(s.SendMessage(ctx, c, alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindFile, Data: []byte("a,b\n"), FileName: "data.csv"}, IdempotencyKey: "m-1"}))
	if retry := must[string](t, "retry")(s.SendMessage(ctx, c, alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindFile, Data: []byte("a,b\n"), FileName: "data.csv"}, IdempotencyKey: "m-1"})); retry != file {
		t.Fatalf("a retried send made %s, first was %s", retry, file)
	}
	_, err := s.SendMessage(ctx, c, alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindFile, Data: []byte("other"), FileName: "x.csv"}, IdempotencyKey: "m-1"})
	wantCode(t, "same key, different file", err, alice.EKeyReused)
	key := must[string](t, "send by key")(s.SendMessage(ctx, c, alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindImage, Key: "img_v2_abc"}}))
	_, err = s.SendMessage(ctx, c, alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindImage, Data: []byte("not an image"), FileName: "x.png"}})
	wantCode(t, "not an image", err, alice.EInvalid)

	items, total, err := s.ListMessages(ctx, c, alice.Page{Limit: 10})
	if err != nil || total != 3 || len(items) != 3 || items[0].ID != img || items[1].ID != file || items[2].ID != key {
		t.Fatalf("outbox = %+v (%d), %v", items, total, err)
	}
	if it := items[0]; it.Kind != alice.KindImage || it.Caption != "look" || it.FileName != "chart.png" || it.Size != len(png) || it.SHA256 == "" {
		t.Fatalf("image item = %+v", it)
	}
	if it := items[2]; it.Key != "img_v2_abc" || it.Size != 0 {
		t.Fatalf("key item = %+v", it)
	}
	m, data, err := s.MessageContent(ctx, c, img)
	if err != nil || string(data) != string(png) || m.Kind != alice.KindImage || m.FileName != "chart.png" {
		t.Fatalf("image content = %+v, %d bytes, %v", m, len(data), err)
	}
	_, _, err = s.MessageContent(ctx, c, key)
	wantCode(t, "content of a message sent by key", err, alice.ENotFound)
	_, _, err = s.MessageContent(ctx, chat("oc_other"), img)
	wantCode(t, "another conversation's message", err, alice.ENotFound)
}
