package automation

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/llm"
	"github.com/alice-runtime/alice/messenger/outbox"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

func setup(t *testing.T, backend llm.Backend, workflowsYAML string) (*Executor, *outbox.Outbox) {
	t.Helper()
	store, err := badgerstore.Open(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	box := outbox.New("main", store, alice.SystemClock{}, alice.NewIDs(alice.SystemClock{}), outbox.Retention{MaxMessages: 100})
	var workflows map[string]config.Workflow
	if workflowsYAML != "" {
		cfg, err := config.Parse([]byte("bots:\n  main:\n    llm: {command: [cat]}\n    workflows:\n"+workflowsYAML), "")
		if err != nil {
			t.Fatal(err)
		}
		workflows = cfg.Bots[0].Workflows
	}
	return New(map[string]Bot{"main": {Messenger: box, LLM: backend, Workflows: workflows}}), box
}

func texts(t *testing.T, box *outbox.Outbox, scope alice.Scope) []string {
	t.Helper()
	items, _, err := box.List(context.Background(), scope, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.Text)
	}
	return out
}

var occ = alice.Occurrence{ID: "occ_1", ScheduledAt: time.Now(), StartedAt: time.Now()}

func TestExecuteActions(t *testing.T) {
	upper := llm.Command{Argv: []string{"tr", "a-z", "A-Z"}}
	exec, box := setup(t, upper, `      digest:
        steps:
          - run_llm: "summarise {{.Input}}"
          - send_text: "Digest: {{.Previous}}"
          - send_text: "(was: {{.Previous}})"
`)
	ctx := context.Background()
	chat := alice.Scope{Type: alice.ScopeChat, ID: "oc_1"}
	tests := []struct {
		name string
		task alice.Task
		want []string // texts added to the conversation
	}{
		{"send_text", alice.Task{Action: alice.ActionSendText, Text: "hello"}, []string{"hello"}},
		{"run_llm", alice.Task{Action: alice.ActionRunLLM, Prompt: "shout this"}, []string{"SHOUT THIS"}},
		{"run_workflow", alice.Task{Action: alice.ActionRunWorkflow, Workflow: "digest", Prompt: "the team"}, []string{"Digest: SUMMARISE THE TEAM", "(was: Digest: SUMMARISE THE TEAM)"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.task.ID, tt.task.ScopeType, tt.task.ScopeID = "task_x", chat.Type, chat.ID
			o := occ
			o.ID = "occ_" + tt.name
			before := len(texts(t, box, chat))
			id, err := exec.Execute(ctx, "main", tt.task, o)
			if err != nil || !strings.HasPrefix(id, "om_") {
				t.Fatalf("Execute = %q, %v", id, err)
			}
			got := texts(t, box, chat)[before:]
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("sent %q, want %q", got, tt.want)
			}
			// Running the same occurrence again delivers nothing new.
			again, err := exec.Execute(ctx, "main", tt.task, o)
			if err != nil || again != id || len(texts(t, box, chat)) != before+len(tt.want) {
				t.Fatalf("re-run of occurrence %d sent again (%q, %v)", i, again, err)
			}
		})
	}
}

func TestExecuteFailures(t *testing.T) {
	failing := llm.Command{Argv: []string{"sh", "-c", "echo quota exceeded >&2; exit 1"}}
	exec, _ := setup(t, failing, `      w:
        steps:
          - run_llm: "x"
          - send_text: "{{.Previous}}"
`)
	noLLM, _ := setup(t, nil, "")
	chat := alice.Task{ID: "task_x", ScopeType: alice.ScopeChat, ScopeID: "oc_1"}
	tests := []struct {
		name string
		exec *Executor
		bot  string
		task alice.Task
		want string
	}{
		{"llm fails", exec, "main", alice.Task{Action: alice.ActionRunLLM, Prompt: "p"}, "quota exceeded"},
		{"workflow step fails", exec, "main", alice.Task{Action: alice.ActionRunWorkflow, Workflow: "w"}, "workflow w step 1 (run_llm)"},
		{"workflow gone from config", exec, "main", alice.Task{Action: alice.ActionRunWorkflow, Workflow: "gone"}, `workflow "gone" is no longer configured`},
		{"no llm", noLLM, "main", alice.Task{Action: alice.ActionRunLLM, Prompt: "p"}, "no LLM backend"},
		{"unknown bot", exec, "other", alice.Task{Action: alice.ActionSendText, Text: "t"}, "bot other is not configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := tt.task
			task.ID, task.ScopeType, task.ScopeID = chat.ID, chat.ScopeType, chat.ScopeID
			_, err := tt.exec.Execute(context.Background(), tt.bot, task, occ)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
