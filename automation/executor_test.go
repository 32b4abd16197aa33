package automation

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/llm"
)

func workflows(t *testing.T, yaml string) map[string]config.Workflow {
	t.Helper()
	cfg, err := config.Parse([]byte("bots:\n  main:\n    llm: {command: [cat]}\n    workflows:\n"+yaml), "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Bots[0].Workflows
}

// inbox is a Sender that, like a messenger honouring dedupe keys, delivers
// each (occurrence, step) once.
type inbox struct {
	occ   string
	texts []string
	byKey map[string]string
}

func newInbox(occ string) *inbox { return &inbox{occ: occ, byKey: map[string]string{}} }

func (in *inbox) send(_ context.Context, m alice.Outgoing, step string) (string, error) {
	key := in.occ + "/" + step
	if id, ok := in.byKey[key]; ok {
		return id, nil
	}
	id := "om_" + key
	in.byKey[key] = id
	in.texts = append(in.texts, m.Text)
	return id, nil
}

var occ = alice.Occurrence{ID: "occ_1", ScheduledAt: time.Now(), StartedAt: time.Now()}

func execution(task alice.Task, send actors.Sender) actors.Execution {
	task.ID, task.ScopeType, task.ScopeID = "task_x", alice.ScopeChat, "oc_1"
	return actors.Execution{Bot: "main", Task: task, Occurrence: occ, Send: send,
		Conversation: alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_1", ChatType: "group", SessionKey: "s-1"}}
}

func TestExecuteActions(t *testing.T) {
	upper := llm.Command{Argv: []string{"tr", "a-z", "A-Z"}}
	exec := New(Config{Bots: map[string]Bot{"main": {LLM: upper, Workflows: workflows(t, `      digest:
        steps:
          - run_llm: "summarise {{.Input}}"
            name: summary
          - send_text: "Digest: {{.Previous}}"
          - send_text: '(was: {{.Previous}}; summary {{.Steps.summary}}; first {{index .Steps "0"}})'
`)}}})
	tests := []struct {
		name     string
		task     alice.Task
		want     []string // texts delivered
		attempts int
	}{
		{"send_text", alice.Task{Action: alice.ActionSendText, Text: "hello"}, []string{"hello"}, 0},
		{"run_llm", alice.Task{Action: alice.ActionRunLLM, Prompt: "shout this"}, []string{"SHOUT THIS"}, 1},
		{"run_workflow", alice.Task{Action: alice.ActionRunWorkflow, Workflow: "digest", Prompt: "the team"},
			[]string{"Digest: SUMMARISE THE TEAM", "(was: Digest: SUMMARISE THE TEAM; summary SUMMARISE THE TEAM; first SUMMARISE THE TEAM)"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInbox("occ_" + tt.name)
			rep, err := exec.Execute(context.Background(), execution(tt.task, in.send))
			if err != nil || !strings.HasPrefix(rep.MessageID, "om_") || len(rep.Attempts) != tt.attempts {
				t.Fatalf("Execute = %+v, %v", rep, err)
			}
			if strings.Join(in.texts, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("sent %q, want %q", in.texts, tt.want)
			}
			// Running the same occurrence again asks for the same steps,
			// so a deduplicating messenger delivers nothing new.
			again, err := exec.Execute(context.Background(), execution(tt.task, in.send))
			if err != nil || again.MessageID != rep.MessageID || len(in.texts) != len(tt.want) {
				t.Fatalf("re-run sent again (%+v, %v): %q", again, err, in.texts)
			}
		})
	}
}

func TestExecuteFailures(t *testing.T) {
	failing := llm.Command{Argv: []string{"sh", "-c", "echo quota exceeded >&2; exit 1"}}
	exec := New(Config{Bots: map[string]Bot{"main": {LLM: failing, Workflows: workflows(t, `      w:
        steps:
          - run_llm: "x"
            name: ask
          - send_text: "{{.Previous}}"
`)}}})
	noLLM := New(Config{Bots: map[string]Bot{"main": {}}})
	tests := []struct {
		name string
		exec *Executor
		bot  string
		task alice.Task
		want string
	}{
		{"llm fails", exec, "main", alice.Task{Action: alice.ActionRunLLM, Prompt: "p"}, "quota exceeded"},
		{"workflow step fails", exec, "main", alice.Task{Action: alice.ActionRunWorkflow, Workflow: "w"}, `workflow w step 1 "ask" (run_llm)`},
		{"workflow gone from config", exec, "main", alice.Task{Action: alice.ActionRunWorkflow, Workflow: "gone"}, `workflow "gone" is no longer configured`},
		{"no llm", noLLM, "main", alice.Task{Action: alice.ActionRunLLM, Prompt: "p"}, "no LLM backend"},
		{"unknown bot", exec, "other", alice.Task{Action: alice.ActionSendText, Text: "t"}, "bot other is not configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInbox("occ")
			x := execution(tt.task, in.send)
			x.Bot = tt.bot
			_, err := tt.exec.Execute(context.Background(), x)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if len(in.texts) != 0 {
				t.Fatalf("a failed occurrence sent %q", in.texts)
			}
		})
	}
}

// scripted answers each call with the next of its outcomes, taking took
// on the fake clock, and keeps the requests.
type scripted struct {
	clock    *fakeclock.Clock
	took     time.Duration
	outcomes []error // nil: a reply
	requests []llm.Request
}

func (s *scripted) Complete(_ context.Context, req llm.Request) (string, error) {
	s.requests = append(s.requests, req)
	s.clock.Advance(s.took)
	err := s.outcomes[min(len(s.requests), len(s.outcomes))-1]
	if err != nil {
		return "", err
	}
	return "done", nil
}

var (
	overloaded = &llm.Error{Err: errors.New("agent: exit status 1: overloaded"), Retryable: true, Status: "exit 1"}
	limited    = &llm.Error{Err: errors.New("llm endpoint: 429"), Retryable: true, RetryAfter: 40 * time.Second, Status: "http 429"}
	refused    = &llm.Error{Err: errors.New("llm endpoint: 400 Bad Request"), Status: "http 400"}
)

// TestRetries runs the retry loop on a fake clock: what is retried, how
// long it waits, and what each run record says about its attempts.
func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		retries  int
		outcomes []error
		wantErr  error
		waits    []time.Duration // the backoff is 2s, 4s, ... without jitter here
		statuses []string
	}{
		{"first try", 2, []error{nil}, nil, nil, []string{""}},
		{"passes on the second", 2, []error{overloaded, nil}, nil, []time.Duration{2 * time.Second}, []string{"exit 1", ""}},
		{"retries exhausted", 2, []error{overloaded}, overloaded, []time.Duration{2 * time.Second, 4 * time.Second}, []string{"exit 1", "exit 1", "exit 1"}},
		{"no retries configured", 0, []error{overloaded}, overloaded, nil, []string{"exit 1"}},
		{"refused is final", 2, []error{refused}, refused, nil, []string{"http 400"}},
		{"Retry-After is honoured", 1, []error{limited, nil}, nil, []time.Duration{40 * time.Second}, []string{"http 429", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			clock := fakeclock.New(start)
			backend := &scripted{clock: clock, took: 3 * time.Second, outcomes: tt.outcomes}
			var waits []time.Duration
			exec := New(Config{
				Bots:    map[string]Bot{"main": {LLM: backend, Retries: tt.retries, Env: []string{"ALICE_RUNTIME_BIN=/bin/alice"}}},
				Clock:   clock,
				Sleep:   func(_ context.Context, d time.Duration) error { waits = append(waits, d); clock.Advance(d); return nil },
				Backoff: func(n int) time.Duration { return 2 * time.Second << (n - 1) },
			})
			in := newInbox("occ")
			rep, err := exec.Execute(context.Background(), execution(alice.Task{Action: alice.ActionRunLLM, Prompt: "p"}, in.send))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(waits, tt.waits) {
				t.Fatalf("waited %v, want %v", waits, tt.waits)
			}
			var statuses []string
			at := start
			for i, a := range rep.Attempts {
				statuses = append(statuses, a.Status)
				if !a.StartedAt.Equal(at) || a.DurationMS != 3000 {
					t.Fatalf("attempt %d = %+v, want it to start at %s and take 3s", i, a, at)
				}
				if (a.Status == "") != (a.Error == "") {
					t.Fatalf("attempt %d = %+v: a status goes with an error", i, a)
				}
				at = at.Add(3 * time.Second)
				if i < len(tt.waits) {
					at = at.Add(tt.waits[i])
				}
			}
			if !slices.Equal(statuses, tt.statuses) {
				t.Fatalf("attempt statuses %q, want %q", statuses, tt.statuses)
			}
			if sent := len(in.texts); (err == nil) != (sent == 1) {
				t.Fatalf("sent %d messages with err %v", sent, err)
			}
		})
	}
}

// TestNoRetryPastTheDeadline: a wait that would outlast the occurrence's
// time is not started; the error says why there was no other attempt.
func TestNoRetryPastTheDeadline(t *testing.T) {
	clock := fakeclock.New(time.Now())
	backend := &scripted{clock: clock, outcomes: []error{limited, nil}}
	slept := false
	exec := New(Config{Bots: map[string]Bot{"main": {LLM: backend, Retries: 3}}, Clock: clock,
		Sleep: func(context.Context, time.Duration) error { slept = true; return nil }})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := exec.Execute(ctx, execution(alice.Task{Action: alice.ActionRunLLM, Prompt: "p"}, newInbox("o").send))
	if !errors.Is(err, limited) || !strings.Contains(err.Error(), "no time left to wait 40s") || slept || len(backend.requests) != 1 {
		t.Fatalf("err = %v, slept %v, %d calls", err, slept, len(backend.requests))
	}
}

// TestAgentEnvironment: the agent is told its conversation, the runtime's
// callback variables, and its task and occurrence.
func TestAgentEnvironment(t *testing.T) {
	backend := &scripted{clock: fakeclock.New(time.Now()), outcomes: []error{nil}}
	exec := New(Config{Bots: map[string]Bot{"main": {LLM: backend, Env: []string{"ALICE_RUNTIME_API_BASE_URL=http://127.0.0.1:7331", "ALICE_RUNTIME_API_TOKEN=tok", "ALICE_RUNTIME_BIN=/usr/bin/alice"}}}})
	if _, err := exec.Execute(context.Background(), execution(alice.Task{Action: alice.ActionRunLLM, Prompt: "p"}, newInbox("o").send)); err != nil {
		t.Fatal(err)
	}
	env := backend.requests[0].Env
	for _, want := range []string{
		"ALICE_RUNTIME_API_BASE_URL=http://127.0.0.1:7331", "ALICE_RUNTIME_API_TOKEN=tok", "ALICE_RUNTIME_BIN=/usr/bin/alice",
		"ALICE_RECEIVE_ID_TYPE=chat_id", "ALICE_RECEIVE_ID=oc_1", "ALICE_CHAT_TYPE=group", "ALICE_SESSION_KEY=s-1",
		"ALICE_TASK_ID=task_x", "ALICE_OCCURRENCE_ID=" + occ.ID,
	} {
		if !slices.Contains(env, want) {
			t.Errorf("the agent's environment %q lacks %s", env, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n, base := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 6: time.Minute, 40: time.Minute} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := Backoff(n)
			if d < base/2 || d > base {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", n, d, base/2, base)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Fatalf("Backoff(%d) has no jitter: %v", n, seen)
		}
	}
}
