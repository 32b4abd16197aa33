package actors

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/await"
)

// TestConsecutiveFailuresPauseARecurringTask: with the default of three,
// the third failed occurrence in a row pauses an hourly task, says why in
// paused_reason and in a notice to its conversation; the paused task skips
// its slots, and resuming it starts afresh.
func TestConsecutiveFailuresPauseARecurringTask(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"action":"run_llm","prompt":"p","cron":"@every 1h","title":"digest"`)
	s.exec.failWith(errors.New("agent my-agent: exit status 1: model overloaded"))
	for i := 1; i <= 3; i++ {
		s.at(time.Duration(i) * time.Hour)
		runs := s.awaitRuns(task.ID, i)
		r := runs[i-1]
		if r.Outcome != alice.OutcomeFailed || r.Attempts != 1 || len(r.AttemptLog) != 1 || r.AttemptLog[0].Status != "exit 1" {
			t.Fatalf("run %d = %+v", i, r)
		}
		if got := s.task(task.ID); (got.Status == alice.TaskPaused) != (i == 3) {
			t.Fatalf("after %d failures the task is %s", i, got.Status)
		}
	}
	got := s.task(task.ID)
	if got.NextRunAt != nil || !strings.Contains(got.PausedReason, "3 occurrences in a row failed") || !strings.Contains(got.PausedReason, "model overloaded") {
		t.Fatalf("paused task = %+v", got)
	}
	msgs := s.messages(1)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, `Task "digest" (`+task.ID+`) is paused`) || !strings.Contains(msgs[0].Text, "--status active") {
		t.Fatalf("notice = %+v", msgs)
	}

	s.at(6 * time.Hour)
	if _, n, _ := s.svc.TaskRuns(bg, task.ID, alice.Page{Limit: 10}); n != 3 {
		t.Fatalf("the paused task ran: %d runs", n)
	}
	s.exec.failWith(nil)
	resumed, err := s.patch(task.ID, `{"status":"active"}`)
	if err != nil || resumed.PausedReason != "" || !resumed.NextRunAt.Equal(t0.Add(7*time.Hour)) {
		t.Fatalf("resume = %+v, %v", resumed, err)
	}
	// One more failure after resuming does not pause it again: the count
	// started over.
	s.exec.failWith(errors.New("still failing"))
	s.at(7 * time.Hour)
	s.awaitRuns(task.ID, 4)
	if got := s.task(task.ID); got.Status != alice.TaskActive {
		t.Fatalf("one failure after resuming: %s", got.Status)
	}
}

// TestSuccessResetsTheFailureCount: failures that are not in a row do not
// pause; one-shot tasks are never paused by failures.
func TestSuccessResetsTheFailureCount(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"action":"run_llm","prompt":"p","cron":"@every 1h"`)
	once := s.create(2, `,"action":"run_llm","prompt":"p","run_at":"2025-03-07T18:00:00Z"`)
	for i, fail := range []bool{true, true, false, true, true} {
		if fail {
			s.exec.failWith(errors.New("flaky"))
		} else {
			s.exec.failWith(nil)
		}
		s.at(time.Duration(i+1) * time.Hour)
		s.awaitRuns(task.ID, i+1)
	}
	if got := s.task(task.ID); got.Status != alice.TaskActive {
		t.Fatalf("task with failures not in a row = %s (%s)", got.Status, got.PausedReason)
	}
	if got := s.task(once.ID); got.Status != alice.TaskCompleted || got.LastError != "flaky" {
		t.Fatalf("failed one-shot task = %+v", got)
	}
}

func TestFailurePauseCanBeTurnedOff(t *testing.T) {
	bot := mainBot()
	bot.MaxConsecutiveFailures = -1
	s := newSched(t, Config{Bots: map[string]BotConfig{"main": bot}})
	task := s.create(1, `,"action":"run_llm","prompt":"p","cron":"@every 1h"`)
	s.exec.failWith(errors.New("down"))
	for i := 1; i <= 5; i++ {
		s.at(time.Duration(i) * time.Hour)
		s.awaitRuns(task.ID, i)
	}
	if got := s.task(task.ID); got.Status != alice.TaskActive {
		t.Fatalf("task = %s", got.Status)
	}
}

// TestAgentsSeeTheTasksOrigin: a task created from a request in its own
// conversation keeps that request's context for its agent (not the message
// it replied to); one created from elsewhere gets only its scope.
func TestAgentsSeeTheTasksOrigin(t *testing.T) {
	s := newSched(t, Config{})
	origin := alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_1", ChatType: "group",
		SessionKey: "sess-9", ActorUserID: "u_1", ActorOpenID: "ou_1", SourceMessageID: "om_trigger"}
	tests := []struct {
		name   string
		origin *alice.Conversation
		scope  string
		want   alice.Conversation
	}{
		{"same scope", &origin, `"scope_type":"chat","scope_id":"oc_1"`,
			alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_1", ChatType: "group", SessionKey: "sess-9", ActorUserID: "u_1", ActorOpenID: "ou_1"}},
		{"other scope", &origin, `"scope_type":"user","scope_id":"ou_7"`,
			alice.Conversation{ReceiveIDType: alice.ReceiveOpenID, ReceiveID: "ou_7"}},
		{"no origin", nil, `"scope_type":"user","scope_id":"someone@example.com"`,
			alice.Conversation{ReceiveIDType: alice.ReceiveEmail, ReceiveID: "someone@example.com"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in alice.TaskInput
			body := `{` + tt.scope + `,"action":"run_llm","prompt":"p","run_at":"2025-03-07T18:00:00Z"}`
			if err := json.Unmarshal([]byte(body), &in); err != nil {
				t.Fatal(err)
			}
			task, err := s.svc.CreateTask(bg, alice.TaskCreate{Input: in, Origin: tt.origin})
			if err != nil {
				t.Fatal(err)
			}
			s.at(time.Hour + time.Duration(i)*time.Minute)
			s.awaitRuns(task.ID, 1)
			x := s.exec.lastExecution()
			if x.Task.ID != task.ID || x.Conversation != tt.want {
				t.Fatalf("the agent saw %+v, want %+v", x.Conversation, tt.want)
			}
		})
	}
}

// TestShutdownStopsAgentsThatOutlastIt: an agent still running when the
// shutdown's deadline passes has its context cancelled, and its occurrence
// stays unrecorded, so it runs again after the restart.
func TestShutdownStopsAgentsThatOutlastIt(t *testing.T) {
	s := newSched(t, Config{})
	s.exec.gate = make(chan struct{}) // never opened: the agent hangs
	task := s.create(1, `,"action":"run_llm","prompt":"p","run_at":"2025-03-07T18:00:00Z"`)
	s.at(time.Hour)
	await.Until(t, 10*time.Second, "the agent to start", func() bool { calls, _ := s.exec.total(); return calls == 1 })
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	if err := s.rt.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s.exec.mu.Lock()
	stopped := s.exec.stopped
	s.exec.mu.Unlock()
	if stopped != 1 {
		t.Fatal("the agent's context was not cancelled by the shutdown")
	}
	ts, err := s.store.TaskRecord(bg, alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: "oc_1"}}, task.ID)
	if err != nil || ts.Recorded != 0 || ts.Status != alice.TaskActive || ts.Due == nil {
		t.Fatalf("after shutdown the task is %+v, %v; want it unrecorded and still due", ts, err)
	}
}
