package httpapi

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
)

// TestRequestLogsAndIDs: every request gets an id (the client's when it is
// sensible), echoed in X-Request-Id and in every log line the request
// causes; each request is one info line naming its route pattern, never
// the ids in its path; Observe hears of it.
func TestRequestLogsAndIDs(t *testing.T) {
	var logs strings.Builder
	f := &fake{createGoal: func(alice.Conversation, alice.GoalCreate) (*alice.Goal, error) {
		return nil, errors.New("disk on fire")
	}}
	type seen struct {
		method, route string
		status        int
	}
	var observed []seen
	h := handler(f, &logs, func(c *Config) {
		c.Observe = func(method, route string, status int, _ time.Duration) {
			observed = append(observed, seen{method, route, status})
		}
	})

	tests := []struct {
		name, method, path, sentID string
		wantID                     *regexp.Regexp
		route                      string
		status                     int
	}{
		{"the client's id", "GET", "/api/v1/automation/tasks/task_01jhmk1sm0bkjcjnbkv09hm1jz", "trace-42", regexp.MustCompile(`^trace-42$`), "/api/v1/automation/tasks/:taskID", 404},
		{"a generated id", "GET", "/api/v1/goal", "", regexp.MustCompile(`^[A-Z2-7]{26}$`), "/api/v1/goal", 204},
		{"an odd id is replaced", "GET", "/api/v1/goal", "has spaces in it", regexp.MustCompile(`^[A-Z2-7]{26}$`), "/api/v1/goal", 204},
		{"an internal error is logged under the id", "POST", "/api/v1/goal", "req-500", regexp.MustCompile(`^req-500$`), "/api/v1/goal", 500},
		{"no route", "GET", "/api/v2/nothing", "req-404", regexp.MustCompile(`^req-404$`), "unmatched", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			observed = nil
			rec := do(h, req(tt.method, tt.path, `{"description":"x"}`, "X-Request-Id", tt.sentID))
			id := rec.Header().Get("X-Request-Id")
			if rec.Code != tt.status || !tt.wantID.MatchString(id) {
				t.Fatalf("status %d, X-Request-Id %q; want %d and %s", rec.Code, id, tt.status, tt.wantID)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			last := lines[len(lines)-1]
			for _, want := range []string{"level=INFO", "msg=request", "method=" + tt.method, "route=" + tt.route + " ", "status=" + strconv.Itoa(tt.status), "request_id=" + id} {
				if !strings.Contains(last, want) {
					t.Fatalf("request line %q lacks %q", last, want)
				}
			}
			if strings.Contains(last, "task_01") {
				t.Fatalf("request line %q names the path's id; want the route pattern only", last)
			}
			for _, l := range lines {
				if !strings.Contains(l, "request_id="+id) {
					t.Fatalf("a line the request caused lacks its id: %q", l)
				}
			}
			if len(observed) != 1 || observed[0] != (seen{tt.method, tt.route, tt.status}) {
				t.Fatalf("observed %+v", observed)
			}
		})
	}
	logs.Reset()
	do(h, req("GET", "/healthz", ""))
	if strings.Contains(logs.String(), "level=INFO") {
		t.Fatalf("health checks are logged at info: %q", logs.String())
	}
}
