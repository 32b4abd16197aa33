package automation

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/llm"
)

func setup(t *testing.T, backend llm.Backend, workflowsYAML string) *Executor {
	t.Helper()
	var workflows map[string]config.Workflow
	if workflowsYAML != "" {
		cfg, err := config.Parse([]byte("bots:\n  main:\n    llm: {command: [cat]}\n    workflows:\n"+workflowsYAML), "")
		if err != nil {
			t.Fatal(err)
		}
		workflows = cfg.Bots[0].Workflows
	}
	return New(map[string]Bot{"main": {LLM: backend, Workflows: workflows}})
}

// inbox is a Sender that, like a messenger honouring dedupe keys, delivers
// each (occurrence, step) once.
type inbox struct {
	occ   string
	texts []string
	byKey map[string]string
}

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

func TestExecuteActions(t *testing.T) {
	upper := llm.Command{Argv: []string{"tr", "a-z", "A-Z"}}
	exec := setup(t, upper, `      digest:
        steps:
          - run_llm: "summarise {{.Input}}"
          - send_text: "Digest: {{.Previous}}"
          - send_text: "(was: {{.Previous}})"
`)
	tests := []struct {
		name string
		task alice.Task
		want []string // texts delivered
	}{
		{"send_text", alice.Task{Action: alice.ActionSendText, Text: "hello"}, []string{"hello"}},
		{"run_llm", alice.Task{Action: alice.ActionRunLLM, Prompt: "shout this"}, []string{"SHOUT THIS"}},
		{"run_workflow", alice.Task{Action: alice.ActionRunWorkflow, Workflow: "digest", Prompt: "the team"}, []string{"Digest: SUMMARISE THE TEAM", "(was: Digest: SUMMARISE THE TEAM)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.task.ID, tt.task.ScopeType, tt.task.ScopeID = "task_x", alice.ScopeChat, "oc_1"
			in := &inbox{occ: "occ_" + tt.name, byKey: map[string]string{}}
			var send actors.Sender = in.send
			id, err := exec.Execute(context.Background(), "main", tt.task, occ, send)
			if err != nil || !strings.HasPrefix(id, "om_") {
				t.Fatalf("Execute = %q, %v", id, err)
			}
			if strings.Join(in.texts, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("sent %q, want %q", in.texts, tt.want)
			}
			// Running the same occurrence again asks for the same steps,
			// so a deduplicating messenger delivers nothing new.
			again, err := exec.Execute(context.Background(), "main", tt.task, occ, send)
			if err != nil || again != id || len(in.texts) != len(tt.want) {
				t.Fatalf("re-run sent again (%q, %v): %q", again, err, in.texts)
			}
		})
	}
}

func TestExecuteFailures(t *testing.T) {
	failing := llm.Command{Argv: []string{"sh", "-c", "echo quota exceeded >&2; exit 1"}}
	exec := setup(t, failing, `      w:
        steps:
          - run_llm: "x"
          - send_text: "{{.Previous}}"
`)
	noLLM := setup(t, nil, "")
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
			task.ID, task.ScopeType, task.ScopeID = "task_x", alice.ScopeChat, "oc_1"
			in := &inbox{occ: "occ", byKey: map[string]string{}}
			_, err := tt.exec.Execute(context.Background(), tt.bot, task, occ, in.send)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if len(in.texts) != 0 {
				t.Fatalf("a failed occurrence sent %q", in.texts)
			}
		})
	}
}
