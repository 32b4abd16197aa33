package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
)

// agentScript is one agent for every case, chosen by the prompt on stdin.
const agentScript = `#!/bin/sh
prompt=$(cat)
case "$prompt" in
echo:*) printf '%s\n' "${prompt#echo:}" ;;
sleep) exec sleep 30 ;;
flood) head -c 3000000 /dev/zero | tr '\0' x ;;
fail) echo "model overloaded" >&2; exit 4 ;;
fork) sleep 300 & echo $! > "$AGENT_DIR/grandchild.pid"; sleep 300 ;;
callback)
  "$ALICE_RUNTIME_BIN" runtime goal create "set by the agent of $ALICE_TASK_ID" > /dev/null || exit 9
  echo "ctx $ALICE_RECEIVE_ID_TYPE $ALICE_RECEIVE_ID $ALICE_CHAT_TYPE $ALICE_SESSION_KEY $ALICE_OCCURRENCE_ID leak=${AGENT_TEST_SECRET:-none} wd=$(basename "$PWD")"
  ;;
*) echo "unknown prompt" >&2; exit 2 ;;
esac
`

// TestAgents runs a real agent executable through run_llm tasks: its reply
// is delivered; a timeout, a flood, a failing exit are recorded with their
// attempts; a grandchild does not outlive it; and it calls the runtime back
// with alice and the ALICE_* variables, landing in its own conversation.
func TestAgents(t *testing.T) {
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent.sh")
	if err := os.WriteFile(agent, []byte(agentScript), 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "agent-work")
	os.Mkdir(work, 0o755)
	t.Setenv("AGENT_TEST_SECRET", "must-not-leak") // in alice's environment, not inherited
	cfg := writeConfig(t, fmt.Sprintf(`data_dir: data
bots:
  main:
    runtime_http_addr: 127.0.0.1:0
    runtime_http_token: durable-test-token-123
    rate_limit_per_minute: 0
    llm:
      command: [%q]
      workdir: %q
      env: {AGENT_DIR: %q}
      timeout: 1s
      retries: 1
`, agent, work, dir))
	p := startAlice(t, cfg)

	tests := []struct {
		name, prompt, conv string
		outcome            alice.Outcome
		attempts           []string // each attempt's status
		errPart, reply     string
	}{
		{"echo", "echo:hello from the agent", "oc_echo", alice.OutcomeSucceeded, []string{""}, "", "hello from the agent"},
		{"past the timeout", "sleep", "oc_sleep", alice.OutcomeFailed, []string{"timeout", "timeout"}, "deadline exceeded", ""},
		{"flooding stdout", "flood", "oc_flood", alice.OutcomeFailed, []string{"exit 0"}, "longer than", ""},
		{"failing with stderr", "fail", "oc_fail", alice.OutcomeFailed, []string{"exit 4", "exit 4"}, "model overloaded", ""},
		{"forking a grandchild", "fork", "oc_fork", alice.OutcomeFailed, []string{"timeout", "timeout"}, "deadline exceeded", ""},
		{"calling back", "callback", "oc_callback", alice.OutcomeSucceeded, []string{""}, "", "ctx chat_id oc_callback group sess-1 occ_"},
	}
	ids := map[string]string{}
	for _, tt := range tests {
		body := fmt.Sprintf(`{"scope_type":"chat","scope_id":%q,"action":"run_llm","prompt":%q}`, tt.conv, tt.prompt)
		code, task := p.requestAs(t, "POST", "/api/v1/automation/tasks", body, map[string]string{
			"X-Alice-Receive-Id-Type": "chat_id", "X-Alice-Receive-Id": tt.conv, "X-Alice-Chat-Type": "group", "X-Alice-Session-Key": "sess-1"})
		if code != 201 {
			t.Fatalf("create %s: %d %v", tt.name, code, task)
		}
		ids[tt.name] = task["id"].(string)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ids[tt.name]
			var runs []alice.Run
			awaitFor(t, 30*time.Second, "the run of "+tt.name, func() bool {
				p.get(t, "/api/v1/automation/tasks/"+id+"/runs", "", &runs)
				return len(runs) == 1
			})
			r := runs[0]
			var statuses []string
			for _, a := range r.AttemptLog {
				statuses = append(statuses, a.Status)
			}
			if r.Outcome != tt.outcome || r.Attempts != len(tt.attempts) || strings.Join(statuses, ",") != strings.Join(tt.attempts, ",") || !strings.Contains(r.Error, tt.errPart) {
				t.Fatalf("run = %+v; want %s after attempts %q with an error containing %q", r, tt.outcome, tt.attempts, tt.errPart)
			}
			var task alice.Task
			p.get(t, "/api/v1/automation/tasks/"+id, "", &task)
			if task.LastError != r.Error {
				t.Fatalf("last_error %q, run error %q", task.LastError, r.Error)
			}
			if tt.reply == "" {
				return
			}
			var msgs []alice.Message
			p.get(t, "/api/v1/messages", tt.conv, &msgs)
			if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, tt.reply) {
				t.Fatalf("messages in %s = %+v, want one starting %q", tt.conv, msgs, tt.reply)
			}
		})
	}

	t.Run("the callback landed in its conversation", func(t *testing.T) {
		var g alice.Goal
		p.get(t, "/api/v1/goal", "oc_callback", &g)
		if g.Description != "set by the agent of "+ids["calling back"] {
			t.Fatalf("goal = %+v", g)
		}
		var msgs []alice.Message
		p.get(t, "/api/v1/messages", "oc_callback", &msgs)
		if !strings.Contains(msgs[0].Text, "leak=none") || !strings.Contains(msgs[0].Text, "wd=agent-work") {
			t.Fatalf("the agent saw %q; want no secret from alice's environment and its workdir", msgs[0].Text)
		}
	})
	t.Run("the grandchild was stopped", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dir, "grandchild.pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		awaitFor(t, 10*time.Second, "the grandchild to be gone", func() bool {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			return syscall.Kill(pid, 0) != nil || err != nil || strings.Contains(string(stat), ") Z ")
		})
	})
}
