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
	"github.com/alice-runtime/alice/internal/await"
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
			await.Until(t, 30*time.Second, "the run of "+tt.name, func() bool {
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
		pid := pidIn(filepath.Join(dir, "grandchild.pid"))
		if pid <= 0 {
			t.Fatal("the agent wrote no grandchild pid")
		}
		await.Until(t, 10*time.Second, "the grandchild to be gone", func() bool { return !running(pid) })
	})
}

// goalAgent plays an agent working on a goal over three turns: it asks to
// go on at once, then again, then completes the goal, all through the
// alice command line with the ALICE_* variables the runtime gave it. Each
// turn is logged. With MODE=hang, the first run of turn 2 hangs, so that a
// test can kill the runtime under it; with MODE=wait, turn 1 waits a
// minute and turn 2 completes the goal.
const goalAgent = `#!/bin/sh
cat > "$AGENT_DIR/prompt.$ALICE_GOAL_ITERATION"
echo "$ALICE_GOAL_ITERATION" >> "$AGENT_DIR/turns"
case "$MODE.$ALICE_GOAL_ITERATION" in
wait.1) "$ALICE_RUNTIME_BIN" runtime goal delay 1m "waiting for CI" > /dev/null || exit 9
   echo "turn 1: waiting for CI" ;;
wait.2) "$ALICE_RUNTIME_BIN" runtime goal complete > /dev/null || exit 9
   echo "turn 2: CI passed, done" ;;
*.1) "$ALICE_RUNTIME_BIN" runtime goal delay 0s "writing the tests" > /dev/null || exit 9
   echo "turn 1: started" ;;
*.2) if [ "$MODE" = hang ] && [ ! -e "$AGENT_DIR/hung" ]; then
     sleep 300 & echo $! > "$AGENT_DIR/grandchild.pid"
     setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > "$AGENT_DIR/escaped.pid"
     echo $$ > "$AGENT_DIR/hung"; exec sleep 60
   fi
   "$ALICE_RUNTIME_BIN" runtime goal delay 0s "running them" > /dev/null || exit 9
   echo "turn 2: tests written" ;;
*) "$ALICE_RUNTIME_BIN" runtime goal complete > /dev/null || exit 9
   echo "turn $ALICE_GOAL_ITERATION: all green, done" ;;
esac
`

func goalConfig(t *testing.T, mode string) (cfg, dir string) {
	t.Helper()
	dir = t.TempDir()
	agent := filepath.Join(dir, "agent.sh")
	if err := os.WriteFile(agent, []byte(goalAgent), 0o755); err != nil {
		t.Fatal(err)
	}
	return writeConfig(t, fmt.Sprintf(`data_dir: data
bots:
  main:
    runtime_http_addr: 127.0.0.1:0
    runtime_http_token: durable-test-token-123
    rate_limit_per_minute: 0
    llm:
      command: [%q]
      env: {AGENT_DIR: %q, MODE: %q}
      timeout: 2m
`, agent, dir, mode)), dir
}

// conversationTexts lists the texts of the conversation's outbox.
func (p *process) conversationTexts(t *testing.T, conv string) string {
	var msgs []alice.Message
	p.get(t, "/api/v1/messages", conv, &msgs)
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	return strings.Join(texts, " | ")
}

func turnsLog(t *testing.T, dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "turns"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(data)), " ")
}

// TestGoalLoopDrivesTheAgent: a goal created over HTTP gets turns until the
// agent completes it on the third; each turn's prompt carries the goal and
// its reply reaches the conversation.
func TestGoalLoopDrivesTheAgent(t *testing.T) {
	cfg, dir := goalConfig(t, "")
	p := startAlice(t, cfg)
	if code, g := p.request(t, "POST", "/api/v1/goal", `{"objective":"Add unit tests","deadline_in":"1h"}`, "oc_goal"); code != 201 {
		t.Fatalf("create: %d %v", code, g)
	}
	awaitGoalCompleted(t, p, 60*time.Second, "the agent to complete the goal")
	// The last reply is recorded when the turn ends, after the agent's own
	// complete.
	want := "turn 1: started | turn 2: tests written | turn 3: all green, done"
	await.Until(t, 30*time.Second, "the last reply", func() bool { return p.conversationTexts(t, "oc_goal") == want })
	if got := turnsLog(t, dir); got != "1 2 3" {
		t.Fatalf("turns run: %s", got)
	}
	prompt, err := os.ReadFile(filepath.Join(dir, "prompt.2"))
	if err != nil || !strings.Contains(string(prompt), "Goal: Add unit tests") || !strings.Contains(string(prompt), "This is turn 2") ||
		!strings.Contains(string(prompt), "Last turn you said: writing the tests") || !strings.Contains(string(prompt), "alice runtime goal delay") {
		t.Fatalf("turn 2's prompt = %q, %v", prompt, err)
	}
}

// TestGoalLoopSurvivesKill9InATurn: the runtime is killed while the agent
// works on turn 2; the agent dies with it, and what the agent started dies
// when the runtime starts again, in the agent's group or out of it. After
// the restart turn 2 runs again under the same number and the goal is
// completed on turn 3, each reply delivered once.
func TestGoalLoopSurvivesKill9InATurn(t *testing.T) {
	t.Parallel()
	cfg, dir := goalConfig(t, "hang")
	p := startAlice(t, cfg)
	if code, g := p.request(t, "POST", "/api/v1/goal", `{"objective":"Add unit tests"}`, "oc_goal"); code != 201 {
		t.Fatalf("create: %d %v", code, g)
	}
	var agentPID int
	await.Until(t, 60*time.Second, "turn 2 to hang", func() bool {
		agentPID = pidIn(filepath.Join(dir, "hung"))
		return agentPID > 0
	})
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	// The agent does not outlive the runtime that started it, even killed.
	await.Until(t, 10*time.Second, "the orphaned agent to be gone", func() bool { return !running(agentPID) })
	// The kernel stops only the agent; its own child is left to the next
	// start of the runtime.
	grandchild := pidIn(filepath.Join(dir, "grandchild.pid"))
	escaped := pidIn(filepath.Join(dir, "escaped.pid"))
	for _, c := range []struct {
		what string
		pid  int
	}{{"child", grandchild}, {"child in a session of its own", escaped}} {
		if c.pid <= 0 || !running(c.pid) {
			t.Fatalf("the agent's %s (pid %d) is not running after the kill; the restart has nothing to show", c.what, c.pid)
		}
	}

	p = startAlice(t, cfg)
	await.Until(t, 10*time.Second, "the restart to stop the agent's child", func() bool { return !running(grandchild) })
	await.Until(t, 10*time.Second, "the restart to stop the agent's child that left its group", func() bool { return !running(escaped) })
	awaitGoalCompleted(t, p, 60*time.Second, "the goal to be completed after the restart")
	// The last reply is recorded when the turn ends, after the agent's own
	// complete.
	want := "turn 1: started | turn 2: tests written | turn 3: all green, done"
	await.Until(t, 30*time.Second, "the last reply", func() bool { return p.conversationTexts(t, "oc_goal") == want })
	if got := turnsLog(t, dir); got != "1 2 2 3" {
		t.Fatalf("turns run: %s; want turn 2 twice (interrupted, then again), the others once", got)
	}
}

// TestGoalLoopSurvivesKill9BetweenTurns: the runtime is killed while the
// goal waits a minute for its next turn; the restarted runtime wakes it on
// time and runs that turn once. (It takes the minute the contract allows
// as the shortest wait.)
func TestGoalLoopSurvivesKill9BetweenTurns(t *testing.T) {
	t.Parallel()
	cfg, dir := goalConfig(t, "wait")
	p := startAlice(t, cfg)
	if code, g := p.request(t, "POST", "/api/v1/goal", `{"objective":"Merge the PR"}`, "oc_goal"); code != 201 {
		t.Fatalf("create: %d %v", code, g)
	}
	var wake time.Time
	await.Until(t, 60*time.Second, "turn 1 to be recorded", func() bool {
		_, g := p.request(t, "GET", "/api/v1/goal", "", "oc_goal")
		wake, _ = time.Parse(time.RFC3339Nano, fmt.Sprint(g["next_wake_at"]))
		return g["iterations"] == 1.0 && wake.After(time.Now())
	})
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()

	p = startAlice(t, cfg)
	awaitGoalCompleted(t, p, 2*time.Minute, "the goal to be completed after the restart")
	if time.Now().Before(wake) {
		t.Fatalf("turn 2 ran before its wake at %s", wake)
	}
	want := "The goal continues in 1m: waiting for CI | turn 1: waiting for CI | turn 2: CI passed, done"
	await.Until(t, 30*time.Second, "the last reply", func() bool { return p.conversationTexts(t, "oc_goal") == want })
	if got := turnsLog(t, dir); got != "1 2" {
		t.Fatalf("turns run: %s; want each once", got)
	}
}

// awaitGoalCompleted waits until oc_goal has no goal left (GET answers
// 204): the agent completed it.
func awaitGoalCompleted(t *testing.T, p *process, limit time.Duration, what string) {
	t.Helper()
	await.Until(t, limit, what, func() bool {
		code, _ := p.request(t, "GET", "/api/v1/goal", "", "oc_goal")
		return code == 204
	})
}

// running reports whether process pid exists and is not a zombie.
// pidIn reads the pid an agent wrote to path: 0 while it has not.
func pidIn(path string) int {
	data, _ := os.ReadFile(path)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return syscall.Kill(pid, 0) == nil && err == nil && !strings.Contains(string(stat), ") Z ")
}
