package server

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice/internal/await"
)

// TestMetricsMoveWithTheWork scrapes /metrics after a scripted workload:
// requests, conversations, commits, occurrences and the outbox each show
// what was done, and no id or token appears in the output.
func TestMetricsMoveWithTheWork(t *testing.T) {
	in := start(t, t.TempDir(), "bots: {main: {runtime_http_addr: '127.0.0.1:0', llm: {command: [tr, a-z, A-Z]}, goal: {loop: false}}}", Options{})
	if a := in.do(call{method: "GET", path: "/metrics", token: ptr("")}); a.status != 401 {
		t.Fatalf("metrics without the token: %d", a.status)
	}
	in.goal(call{method: "POST", path: "/api/v1/goal", body: `{"description":"measured"}`, conv: "oc_m1"}, 201)
	in.goal(call{method: "POST", path: "/api/v1/goal", body: `{"description":"again"}`, conv: "oc_m1"}, 409)
	task := in.task(call{method: "POST", path: "/api/v1/automation/tasks", body: `{"scope_type":"chat","scope_id":"oc_m2","action":"send_text","text":"now"}`}, 201)
	in.task(call{method: "POST", path: "/api/v1/automation/tasks", body: `{"scope_type":"chat","scope_id":"oc_m2","action":"run_llm","prompt":"shout"}`}, 201)
	await.Until(t, 10*time.Second, "both tasks to run", func() bool { return len(in.messages("oc_m2", -1)) >= 2 })

	a := in.do(call{method: "GET", path: "/metrics"})
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", a.status, a.header.Get("Content-Type"))
	}
	text := string(a.body)
	value := func(series string) float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no series %s in:\n%s", series, text)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	for series, want := range map[string]float64{
		`alice_http_request_duration_seconds_count{method="POST",route="/api/v1/goal",status="201"}`:             1,
		`alice_http_request_duration_seconds_count{method="POST",route="/api/v1/goal",status="409"}`:             1,
		`alice_http_request_duration_seconds_count{method="POST",route="/api/v1/automation/tasks",status="201"}`: 2,
		`alice_occurrences_total{bot="main",outcome="succeeded"}`:                                                2,
		`alice_occurrence_lateness_seconds_count{bot="main"}`:                                                    2,
		`alice_agent_attempts_total{bot="main",result="ok"}`:                                                     1,
		`alice_agent_attempt_duration_seconds_count{bot="main"}`:                                                 1,
		`alice_conversations_stored{bot="main"}`:                                                                 2,
		`alice_outbox_messages{bot="main"}`:                                                                      2,
		`alice_tasks_stored{bot="main"}`:                                                                         2,
	} {
		if got := value(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if live, dormant := value(`alice_conversations_live{bot="main"}`), value(`alice_conversations_dormant{bot="main"}`); live < 1 || live+dormant < 2 {
		t.Errorf("live %v, dormant %v: want both conversations counted", live, dormant)
	}
	if commits, writes := value(`alice_store_commits_total`), value(`alice_store_commit_writes_sum`); commits < 1 || writes < 5 {
		t.Errorf("store: %v commits holding %v writes; want the goal, the tasks and their runs", commits, writes)
	}
	for _, secret := range []string{in.token, "oc_m1", "oc_m2", task.ID, "measured"} {
		if strings.Contains(text, secret) {
			t.Fatalf("the metrics show %q", secret)
		}
	}
}
