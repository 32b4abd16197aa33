package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/fakeclock"
)

// TestGoalLifecycle walks every goal endpoint through every answer code of
// the contract's table, in order, against the real server.
func TestGoalLifecycle(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	conv := "oc_life"
	steps := []struct {
		method, path, body string
		status             int
		goalStatus         alice.GoalStatus // checked when the answer has a body
		errPart            string           // checked for error answers
	}{
		{"GET", "/api/v1/goal", "", 204, "", ""},
		{"POST", "/api/v1/goal/pause", "", 404, "", "no active goal"},
		{"POST", "/api/v1/goal/resume", "", 404, "", "no active goal"},
		{"POST", "/api/v1/goal/complete", "", 404, "", "no active goal"},
		{"DELETE", "/api/v1/goal", "", 404, "", "no active goal"},
		{"POST", "/api/v1/goal", `{"description": ""}`, 400, "", "description"},
		{"POST", "/api/v1/goal", `{"description": "` + strings.Repeat("x", alice.MaxGoalDescriptionBytes+1) + `"}`, 400, "", "longer than 4096"},
		{"POST", "/api/v1/goal", `{}`, 400, "", "description (or objective) is required"},
		{"POST", "/api/v1/goal", `{"description": "Review PR #42"}`, 201, alice.GoalInProgress, ""},
		{"GET", "/api/v1/goal", "", 200, alice.GoalInProgress, ""},
		{"POST", "/api/v1/goal", `{"description": "another"}`, 409, "", "active goal already exists"},
		{"POST", "/api/v1/goal/resume", "", 409, "", "not paused"},
		{"POST", "/api/v1/goal/pause", "", 200, alice.GoalPaused, ""},
		{"POST", "/api/v1/goal/pause", "{}", 409, "", "already paused"},
		{"POST", "/api/v1/goal", `{"description": "another"}`, 409, "", "active goal already exists"},
		{"GET", "/api/v1/goal", "", 200, alice.GoalPaused, ""},
		{"POST", "/api/v1/goal/resume", "", 200, alice.GoalInProgress, ""},
		{"POST", "/api/v1/goal/complete", "", 200, alice.GoalCompleted, ""},
		{"GET", "/api/v1/goal", "", 204, "", ""},
		{"POST", "/api/v1/goal", `{"description": "second"}`, 201, alice.GoalInProgress, ""},
		{"POST", "/api/v1/goal/pause", "", 200, alice.GoalPaused, ""},
		{"POST", "/api/v1/goal/complete", "", 200, alice.GoalCompleted, ""},
		{"POST", "/api/v1/goal", `{"description": "third"}`, 201, alice.GoalInProgress, ""},
		{"DELETE", "/api/v1/goal", "", 204, "", ""},
		{"GET", "/api/v1/goal", "", 204, "", ""},
		{"DELETE", "/api/v1/goal", "", 404, "", "no active goal"},
	}
	var id string
	for i, s := range steps {
		a := in.do(call{method: s.method, path: s.path, body: s.body, conv: conv})
		if a.status != s.status {
			t.Fatalf("step %d %s %s: status %d, want %d (body %s)", i, s.method, s.path, a.status, s.status, a.body)
		}
		switch {
		case s.status == 204:
			if len(a.body) != 0 {
				t.Fatalf("step %d: 204 with body %q", i, a.body)
			}
		case s.errPart != "":
			if msg := a.errorText(t); !strings.Contains(msg, s.errPart) {
				t.Fatalf("step %d: error %q does not mention %q", i, msg, s.errPart)
			}
		default:
			var g alice.Goal
			a.json(t, &g)
			if g.Status != s.goalStatus || !strings.HasPrefix(g.ID, "goal_") {
				t.Fatalf("step %d: goal %+v, want status %s", i, g, s.goalStatus)
			}
			if s.status == 201 {
				id = g.ID
			} else if g.ID != id {
				t.Fatalf("step %d: goal id %s, want %s", i, g.ID, id)
			}
			if (g.Status == alice.GoalCompleted) != (g.CompletedAt != nil) {
				t.Fatalf("step %d: completed_at %v with status %s", i, g.CompletedAt, g.Status)
			}
		}
	}
}

func TestGoalTimestampsFollowTheClock(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC))
	in := start(t, t.TempDir(), "", Options{Clock: clock})
	created := in.goal(call{method: "POST", path: "/api/v1/goal", body: `{"description":"d"}`, conv: "oc_1"}, 201)
	clock.Advance(time.Hour)
	paused := in.goal(call{method: "POST", path: "/api/v1/goal/pause", conv: "oc_1"}, 200)
	if !created.CreatedAt.Equal(clock.Now().Add(-time.Hour)) || !paused.UpdatedAt.Equal(clock.Now()) || !paused.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("created %+v, paused %+v", created, paused)
	}
}

func TestConversationsAreSeparate(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	in.goal(call{method: "POST", path: "/api/v1/goal", body: `{"description":"chat goal"}`, conv: "oc_same"}, 201)
	// The same id as a user is another conversation.
	a := in.do(call{method: "GET", path: "/api/v1/goal", header: map[string]string{
		"X-Alice-Receive-Id-Type": "open_id", "X-Alice-Receive-Id": "oc_same",
	}})
	if a.status != 204 {
		t.Fatalf("user scope with the chat's id: status %d (%s), want 204", a.status, a.body)
	}
}

func TestMissingConversationHeaders(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	tests := []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"none", nil, "X-Alice-Receive-Id-Type is required"},
		{"type only", map[string]string{"X-Alice-Receive-Id-Type": "chat_id"}, "X-Alice-Receive-Id is required"},
		{"id only", map[string]string{"X-Alice-Receive-Id": "oc_1"}, "X-Alice-Receive-Id-Type is required"},
		{"unknown type", map[string]string{"X-Alice-Receive-Id-Type": "room", "X-Alice-Receive-Id": "oc_1"}, "X-Alice-Receive-Id-Type \"room\""},
		{"oversized id", map[string]string{"X-Alice-Receive-Id-Type": "chat_id", "X-Alice-Receive-Id": strings.Repeat("x", 257)}, "longer than 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []call{
				{method: "GET", path: "/api/v1/goal", header: tt.header},
				{method: "POST", path: "/api/v1/goal", body: `{"description":"x"}`, header: tt.header},
				{method: "POST", path: "/api/v1/goal/pause", header: tt.header},
				{method: "DELETE", path: "/api/v1/goal", header: tt.header},
			} {
				a := in.do(c)
				if a.status != 400 {
					t.Fatalf("%s: status %d, want 400", describe(c), a.status)
				}
				if msg := a.errorText(t); !strings.Contains(msg, tt.want) {
					t.Fatalf("%s: error %q does not mention %q", describe(c), msg, tt.want)
				}
			}
		})
	}
}

func TestStrictJSON(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	tests := []struct{ name, body, contentType, want string }{
		{"unknown field", `{"description":"x","owner":"me"}`, "application/json", `unknown field "owner"`},
		{"wrong type", `{"description":42}`, "application/json", `field "description" must be a string`},
		{"trailing data", `{"description":"x"} {}`, "application/json", "unexpected data after the JSON object"},
		{"array", `["x"]`, "application/json", "must be a JSON object"},
		{"string", `"x"`, "application/json", "must be a JSON object"},
		{"empty", ``, "application/json", "request body is empty"},
		{"truncated", `{"description":"x"`, "application/json", "invalid JSON"},
		{"syntax", `{"description" "x"}`, "application/json", "invalid JSON at byte"},
		{"null description", `{"description":null}`, "application/json", "description (or objective) is required"},
		{"multipart", `{"description":"x"}`, "multipart/form-data; boundary=x", "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := call{method: "POST", path: "/api/v1/goal", body: tt.body, conv: "oc_strict", header: map[string]string{"Content-Type": tt.contentType}}
			a := in.do(c)
			if a.status != 400 {
				t.Fatalf("status %d (%s), want 400", a.status, a.body)
			}
			if msg := a.errorText(t); !strings.Contains(msg, tt.want) {
				t.Fatalf("error %q does not mention %q", msg, tt.want)
			}
		})
	}
	t.Run("transition with unknown field", func(t *testing.T) {
		a := in.do(call{method: "POST", path: "/api/v1/goal/pause", body: `{"force":true}`, conv: "oc_strict"})
		if a.status != 400 || !strings.Contains(a.errorText(t), `unknown field "force"`) {
			t.Fatalf("status %d body %s, want 400 naming the field", a.status, a.body)
		}
	})
	// Plain `curl -d` sends no JSON Content-Type; it must work.
	for _, ct := range []string{"", "application/x-www-form-urlencoded", "application/json; charset=utf-8"} {
		conv := "oc_ct_" + strings.NewReplacer("/", "_", ";", "", " ", "", "=", "").Replace(ct)
		in.goal(call{method: "POST", path: "/api/v1/goal", body: `{"description":"curl"}`, conv: conv, header: map[string]string{"Content-Type": ct}}, 201)
	}
}

func TestAuthentication(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	tests := []struct {
		name   string
		header string // Authorization; "" = none
	}{
		{"no header", ""},
		{"wrong scheme", "Basic " + in.token},
		{"wrong token", "Bearer not-the-token-at-all"},
		{"bearer without token", "Bearer"},
		{"bearer with empty token", "Bearer "},
		{"token prefix", "Bearer " + in.token[:len(in.token)-1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", in.base+"/api/v1/goal", nil)
			req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
			req.Header.Set("X-Alice-Receive-Id", "oc_1")
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			a := in.send(req)
			if a.status != 401 {
				t.Fatalf("status %d, want 401", a.status)
			}
			if got := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Fatalf("WWW-Authenticate = %q, want Bearer", got)
			}
			if msg := a.errorText(t); strings.Contains(msg, in.token) {
				t.Fatalf("error %q leaks the token", msg)
			}
		})
	}
	// Unknown routes need auth too, so they do not reveal what exists.
	if a := in.do(call{method: "GET", path: "/api/v1/nope", token: ptr("")}); a.status != 401 {
		t.Fatalf("unknown route without token: %d, want 401", a.status)
	}
	// The scheme is case-insensitive (RFC 7235).
	if a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_1", token: ptr(""), header: map[string]string{"Authorization": "bearer " + in.token}}); a.status != 204 {
		t.Fatalf("lower-case scheme: %d, want 204", a.status)
	}
}

func TestHealthz(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	for _, method := range []string{"GET", "HEAD"} {
		a := in.do(call{method: method, path: "/healthz", token: ptr("")})
		if a.status != 200 {
			t.Fatalf("%s /healthz: %d", method, a.status)
		}
		if method == "GET" && strings.TrimSpace(string(a.body)) != `{"status":"ok"}` {
			t.Fatalf("GET /healthz body %q", a.body)
		}
		if method == "HEAD" && len(a.body) != 0 {
			t.Fatalf("HEAD /healthz has a body %q", a.body)
		}
	}
}

func TestNotFoundAndMethodNotAllowedAreJSON(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	a := in.do(call{method: "GET", path: "/api/v1/nothing-here", conv: "oc_1"})
	if a.status != 404 || !strings.Contains(a.errorText(t), "/api/v1/nothing-here") {
		t.Fatalf("404: %d %s", a.status, a.body)
	}
	a = in.do(call{method: "PUT", path: "/api/v1/goal", body: "{}", conv: "oc_1"})
	if a.status != 405 {
		t.Fatalf("PUT /api/v1/goal: %d, want 405", a.status)
	}
	allow := a.header.Get("Allow")
	for _, m := range []string{"GET", "POST", "DELETE"} {
		if !strings.Contains(allow, m) {
			t.Errorf("Allow %q misses %s", allow, m)
		}
	}
	if !strings.Contains(a.errorText(t), "PUT") {
		t.Errorf("405 error does not name the method: %s", a.body)
	}
}

func TestBodyLimit(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	over := bytes.Repeat([]byte("x"), 1<<20+1)
	send := func(t *testing.T, chunked bool, body []byte) answer {
		var r = bytes.NewReader(body)
		req, _ := http.NewRequest("POST", in.base+"/api/v1/goal", r)
		if chunked {
			// A reader of unknown length makes the client send chunks
			// with no Content-Length, so only the reading side can stop it.
			req, _ = http.NewRequest("POST", in.base+"/api/v1/goal", struct{ *bytes.Reader }{r})
		}
		req.Header.Set("Authorization", "Bearer "+in.token)
		req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
		req.Header.Set("X-Alice-Receive-Id", "oc_big")
		return in.send(req)
	}
	for _, chunked := range []bool{false, true} {
		a := send(t, chunked, over)
		if a.status != 413 {
			t.Fatalf("chunked=%v: 1 MB + 1 byte answered %d, want 413", chunked, a.status)
		}
		if msg := a.errorText(t); msg != "request body exceeds 1 MB" {
			t.Fatalf("chunked=%v: error %q", chunked, msg)
		}
	}
	// Exactly 1 MB is within the limit: it fails on its content, not size.
	exact := append([]byte(`{"description":"`), bytes.Repeat([]byte("x"), 1<<20-len(`{"description":""}`))...)
	exact = append(exact, `"}`...)
	for _, chunked := range []bool{false, true} {
		a := send(t, chunked, exact)
		if a.status != 400 || !strings.Contains(a.errorText(t), "longer than 4096") {
			t.Fatalf("chunked=%v: exactly 1 MB answered %d %s, want 400 for the description", chunked, a.status, a.body)
		}
	}
	if a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_big"}); a.status != 204 {
		t.Fatalf("after refused bodies the conversation has a goal: %d %s", a.status, a.body)
	}
}

func TestRateLimit(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC))
	in := start(t, t.TempDir(), "", Options{Clock: clock})
	for i := 0; i < 120; i++ {
		if a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_busy"}); a.status != 204 {
			t.Fatalf("request %d of the burst: %d %s", i+1, a.status, a.body)
		}
	}
	a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_busy"})
	if a.status != 429 {
		t.Fatalf("request 121: %d, want 429", a.status)
	}
	if ra := a.header.Get("Retry-After"); ra != "1" {
		t.Fatalf("Retry-After = %q, want 1 (a token returns every 0.5 s)", ra)
	}
	a.errorText(t)
	if a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_quiet"}); a.status != 204 {
		t.Fatalf("another conversation while the first is limited: %d, want 204", a.status)
	}
	clock.Advance(500 * time.Millisecond)
	if a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_busy"}); a.status != 204 {
		t.Fatalf("after half a second: %d, want 204", a.status)
	}
	if a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_busy"}); a.status != 429 {
		t.Fatalf("the refilled token was spent, yet: %d, want 429", a.status)
	}
	clock.Advance(time.Minute)
	for i := 0; i < 120; i++ {
		if a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_busy"}); a.status != 204 {
			t.Fatalf("after a minute, request %d: %d; want the whole budget back", i+1, a.status)
		}
	}
}

// TestFailedAuthIsLimitedPerAddress: after 120 failed authentications in a
// minute from one address, its failing attempts get 429; a request with
// the valid token from the same address is never refused by this throttle
// (on loopback every caller shares one address).
func TestFailedAuthIsLimitedPerAddress(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC))
	in := start(t, t.TempDir(), "", Options{Clock: clock})
	guess := call{method: "GET", path: "/api/v1/goal", conv: "oc_1", token: ptr("guess-guess-guess")}
	for i := 0; i < 120; i++ {
		if a := in.do(guess); a.status != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, a.status)
		}
	}
	if a := in.do(guess); a.status != 429 || a.header.Get("Retry-After") == "" {
		t.Fatalf("failure 121 gets %d (Retry-After %q), want 429", a.status, a.header.Get("Retry-After"))
	}
	if a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_1"}); a.status != 204 {
		t.Fatalf("the valid token during the throttle gets %d, want 204", a.status)
	}
	clock.Advance(time.Second)
	if a := in.do(guess); a.status != 401 {
		t.Fatalf("a second later a failing attempt gets %d, want 401 again", a.status)
	}
}

func TestRateLimitZeroTurnsItOff(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC))
	in := start(t, t.TempDir(), "bots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    rate_limit_per_minute: 0\n", Options{Clock: clock})
	for i := 0; i < 300; i++ {
		if a := in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_1"}); a.status != 204 {
			t.Fatalf("request %d with the limit off: %d", i+1, a.status)
		}
	}
}
