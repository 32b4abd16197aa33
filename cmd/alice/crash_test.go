package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
)

// get decodes a JSON GET answer into v and returns the X-Total-Count.
func (p *process) get(t *testing.T, path, conv string, v any) string {
	t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	req.Header.Set("Authorization", "Bearer durable-test-token-123")
	if conv != "" {
		req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
		req.Header.Set("X-Alice-Receive-Id", conv)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
	return resp.Header.Get("X-Total-Count")
}

// TestCrashWhileTasksFire kills the process with SIGKILL while tasks come
// due and run, restarts it, and checks that every occurrence was recorded
// exactly once, on or after its time, and that every message was delivered
// exactly once (the resumed occurrences reuse their idempotency keys).
func TestCrashWhileTasksFire(t *testing.T) {
	const conversations, perConversation = 5, 8
	cfg := writeConfig(t, `data_dir: data
bots:
  main:
    runtime_http_addr: 127.0.0.1:0
    runtime_http_token: durable-test-token-123
    rate_limit_per_minute: 0
    catch_up_window: 1h
    llm:
      command: ["sh", "-c", "sleep 0.4; tr a-z A-Z"]
`)

	p := startAlice(t, cfg)
	type want struct{ conv, text string }
	tasks := map[string]want{}
	start := time.Now()
	for c := 0; c < conversations; c++ {
		conv := fmt.Sprintf("oc_crash_%d", c)
		for i := 0; i < perConversation; i++ {
			at := start.Add(time.Second + time.Duration(i)*250*time.Millisecond).UTC().Format(time.RFC3339Nano)
			body := fmt.Sprintf(`{"scope_type":"chat","scope_id":%q,"action":"send_text","text":"text %d","run_at":%q}`, conv, i, at)
			text := fmt.Sprintf("text %d", i)
			if i%2 == 1 {
				body = fmt.Sprintf(`{"scope_type":"chat","scope_id":%q,"action":"run_llm","prompt":"prompt %d","run_at":%q}`, conv, i, at)
				text = fmt.Sprintf("PROMPT %d", i)
			}
			code, task := p.request(t, "POST", "/api/v1/automation/tasks", body, conv)
			if code != 201 {
				t.Fatalf("create: %d %v", code, task)
			}
			tasks[task["id"].(string)] = want{conv, text}
		}
	}
	// Kill in the middle of the firing window: as soon as some tasks have
	// completed, while later slots (up to 1.75 s after the first) are still
	// to come and some LLM occurrences are running.
	var done []alice.Task
	var doneBefore string
	for deadline := time.Now().Add(20 * time.Second); len(done) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no task completed within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
		doneBefore = p.get(t, "/api/v1/automation/tasks?status=completed&limit=200", "", &done)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	checkStore(t, cfg)
	if n := len(done); n == 0 || n == len(tasks) {
		t.Fatalf("%s of %d tasks had completed when the process was killed; the kill must land mid-way for this test to mean anything", doneBefore, len(tasks))
	}

	p = startAlice(t, cfg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done []alice.Task
		total := p.get(t, "/api/v1/automation/tasks?status=completed&limit=200", "", &done)
		if total == fmt.Sprint(len(tasks)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of %d tasks completed after the restart", total, len(tasks))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for id, w := range tasks {
		var task alice.Task
		p.get(t, "/api/v1/automation/tasks/"+id, "", &task)
		var runs []alice.Run
		p.get(t, "/api/v1/automation/tasks/"+id+"/runs", "", &runs)
		if len(runs) != 1 || task.RunCount != 1 {
			t.Fatalf("task %s: %d runs recorded, run_count %d; want exactly one: %+v", id, len(runs), task.RunCount, runs)
		}
		r := runs[0]
		if r.Outcome != alice.OutcomeSucceeded || r.StartedAt.Before(r.ScheduledAt) || !r.ScheduledAt.Equal(*task.RunAt) || r.MessageID == "" {
			t.Fatalf("task %s (%s): run %+v", id, w.text, r)
		}
	}
	for c := 0; c < conversations; c++ {
		conv := fmt.Sprintf("oc_crash_%d", c)
		var items []alice.Message
		p.get(t, "/api/v1/messages?limit=200", conv, &items)
		seen := map[string]int{}
		for _, it := range items {
			seen[it.Text]++
		}
		for id, w := range tasks {
			if w.conv == conv && seen[w.text] != 1 {
				t.Fatalf("%s: %q delivered %d times (task %s); messages %v", conv, w.text, seen[w.text], id, seen)
			}
		}
		if len(items) != perConversation {
			t.Fatalf("%s: %d messages, want %d: %v", conv, len(items), perConversation, seen)
		}
	}
	t.Logf("killed with %d of %d tasks completed; after the restart all %d occurrences were recorded once", len(done), len(tasks), len(tasks))
}
