package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/testimages"
)

// fake implements the three services with functions a test sets; unset
// ones answer as an empty bot would.
type fake struct {
	getGoal    func(alice.Conversation) (*alice.Goal, error)
	createGoal func(alice.Conversation, alice.GoalCreate) (*alice.Goal, error)
	createTask func(alice.TaskCreate) (*alice.Task, error)
	listTasks  func(alice.TaskFilter, alice.Page) ([]alice.Task, int, error)
	send       func(alice.Conversation, alice.MessageSend) (string, error)
}

func (f *fake) GetGoal(_ context.Context, c alice.Conversation) (*alice.Goal, error) {
	if f.getGoal != nil {
		return f.getGoal(c)
	}
	return nil, nil
}
func (f *fake) CreateGoal(_ context.Context, c alice.Conversation, r alice.GoalCreate) (*alice.Goal, error) {
	return f.createGoal(c, r)
}
func (f *fake) PauseGoal(context.Context, alice.Conversation) (*alice.Goal, error)  { return nil, nil }
func (f *fake) ResumeGoal(context.Context, alice.Conversation) (*alice.Goal, error) { return nil, nil }
func (f *fake) CompleteGoal(context.Context, alice.Conversation) (*alice.Goal, error) {
	return nil, nil
}
func (f *fake) DeleteGoal(context.Context, alice.Conversation) error { return nil }
func (f *fake) DelayGoal(context.Context, alice.Conversation, alice.GoalDelay) (*alice.Goal, error) {
	return nil, nil
}
func (f *fake) CreateTask(_ context.Context, r alice.TaskCreate) (*alice.Task, error) {
	return f.createTask(r)
}
func (f *fake) GetTask(context.Context, string) (*alice.Task, error) {
	return nil, alice.Errorf(alice.ENotFound, "task not found")
}
func (f *fake) ListTasks(_ context.Context, flt alice.TaskFilter, p alice.Page) ([]alice.Task, int, error) {
	return f.listTasks(flt, p)
}
func (f *fake) PatchTask(context.Context, string, alice.TaskInput) (*alice.Task, error) {
	return nil, alice.Errorf(alice.ENotFound, "task not found")
}
func (f *fake) DeleteTask(context.Context, string) error { return nil }
func (f *fake) TaskRuns(context.Context, string, alice.Page) ([]alice.Run, int, error) {
	return nil, 0, nil
}
func (f *fake) SendMessage(_ context.Context, c alice.Conversation, r alice.MessageSend) (string, error) {
	return f.send(c, r)
}
func (f *fake) ListMessages(context.Context, alice.Conversation, alice.Page) ([]alice.Message, int, error) {
	return nil, 0, nil
}
func (f *fake) MessageContent(context.Context, alice.Conversation, string) (*alice.Message, []byte, error) {
	return nil, nil, alice.Errorf(alice.ENotFound, "message not found")
}

const token = "test-token-0123456789"

func handler(f *fake, logs io.Writer, mod ...func(*Config)) http.Handler {
	cfg := Config{
		Token: token, RateLimitPerMinute: 120, Permissions: Permissions{Message: true, Automation: true},
		Goals: f, Tasks: f, Messages: f, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	for _, m := range mod {
		m(&cfg)
	}
	return New(cfg)
}

// req is a request with the token and a chat conversation; set overrides
// headers ("" deletes one).
func req(method, path, body string, set ...string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Host = "127.0.0.1:7331"
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
	r.Header.Set("X-Alice-Receive-Id", "oc_1")
	for i := 0; i+1 < len(set); i += 2 {
		if set[i+1] == "" {
			r.Header.Del(set[i])
		} else {
			r.Header.Set(set[i], set[i+1])
		}
	}
	return r
}

func do(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func errorText(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q (body %q)", ct, rec.Body)
	}
	var e struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("error body %q", rec.Body)
	}
	return e.Error
}

func TestInternalFailuresShowNoInternals(t *testing.T) {
	tests := []struct {
		name   string
		get    func(alice.Conversation) (*alice.Goal, error)
		secret string // must be logged, never shown
	}{
		{"panic", func(alice.Conversation) (*alice.Goal, error) { panic("secret detail /var/lib/alice") }, "secret detail /var/lib/alice"},
		{"plain error", func(alice.Conversation) (*alice.Goal, error) { return nil, io.ErrUnexpectedEOF }, io.ErrUnexpectedEOF.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			rec := do(handler(&fake{getGoal: tt.get}, &logs), req("GET", "/api/v1/goal", ""))
			if rec.Code != 500 || errorText(t, rec) != "internal error" {
				t.Fatalf("status %d body %s; want a JSON 500 saying only \"internal error\"", rec.Code, rec.Body)
			}
			if !strings.Contains(logs.String(), tt.secret) {
				t.Fatalf("the failure was not logged: %q", logs.String())
			}
		})
	}
}

func TestEveryErrorKindHasItsStatus(t *testing.T) {
	for code, want := range map[alice.Code]int{
		alice.EInvalid: 400, alice.EUnauthorized: 401, alice.EForbidden: 403, alice.ENotFound: 404, alice.EConflict: 409,
		alice.ETooLarge: 413, alice.EUnsupported: 415, alice.EMisdirected: 421, alice.EKeyReused: 422, alice.ERateLimited: 429,
		alice.EInternal: 500, alice.EUpstream: 502, alice.EUnavailable: 503, alice.EStorageFull: 507,
	} {
		f := &fake{getGoal: func(alice.Conversation) (*alice.Goal, error) { return nil, alice.Errorf(code, "kind %s", code) }}
		rec := do(handler(f, io.Discard), req("GET", "/api/v1/goal", ""))
		if rec.Code != want {
			t.Errorf("%s: status %d, want %d", code, rec.Code, want)
		}
		if code == alice.EUnavailable && rec.Header().Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
}

func TestHostMustBeLoopbackOrConfigured(t *testing.T) {
	h := handler(&fake{}, io.Discard, func(c *Config) { c.Hosts = []string{"alice.internal"} })
	for host, want := range map[string]int{
		"127.0.0.1:7331": 204, "localhost:7331": 204, "[::1]:7331": 204, "127.0.0.2": 204, "LOCALHOST": 204,
		"alice.internal:7331": 204, "evil.example:7331": 421, "evil.example": 421, "10.0.0.5:7331": 421,
	} {
		r := req("GET", "/api/v1/goal", "")
		r.Host = host
		rec := do(h, r)
		if rec.Code != want {
			t.Errorf("Host %s: status %d, want %d", host, rec.Code, want)
		}
		if want == 421 && !strings.Contains(errorText(t, rec), "is not served here") {
			t.Errorf("Host %s: error %q", host, rec.Body)
		}
		if rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("Host %s: a CORS header was sent", host)
		}
	}
}

func TestEncodedBodiesAreRefused(t *testing.T) {
	f := &fake{createGoal: func(alice.Conversation, alice.GoalCreate) (*alice.Goal, error) { return &alice.Goal{ID: "goal_1"}, nil }}
	rec := do(handler(f, io.Discard), req("POST", "/api/v1/goal", `{"description":"x"}`, "Content-Encoding", "gzip"))
	if rec.Code != 415 || !strings.Contains(errorText(t, rec), "gzip") {
		t.Fatalf("gzip body: %d %s, want 415 naming the encoding", rec.Code, rec.Body)
	}
	if rec := do(handler(f, io.Discard), req("POST", "/api/v1/goal", `{"description":"x"}`, "Content-Encoding", "identity")); rec.Code != 201 {
		t.Fatalf("identity body: %d %s", rec.Code, rec.Body)
	}
}

// TestValidTokenIsNeverThrottled: a loop of wrong tokens from the one
// loopback address gets 429 after 120 failures, and requests with the valid
// token from the same address keep working.
func TestValidTokenIsNeverThrottled(t *testing.T) {
	h := handler(&fake{}, io.Discard, func(c *Config) { c.RateLimitPerMinute = 0 })
	codes := map[int]int{}
	for i := 0; i < 130; i++ {
		codes[do(h, req("GET", "/api/v1/goal", "", "Authorization", "Bearer wrong")).Code]++
	}
	if codes[401] != failedAuthPerMinute || codes[429] != 130-failedAuthPerMinute {
		t.Fatalf("wrong tokens got %v; want %d × 401 then 429", codes, failedAuthPerMinute)
	}
	if rec := do(h, req("GET", "/api/v1/goal", "")); rec.Code != 204 {
		t.Fatalf("the valid token after the storm: %d %s", rec.Code, rec.Body)
	}
	r := req("GET", "/api/v1/goal", "")
	r.Header.Add("Authorization", "Bearer "+token)
	if rec := do(handler(&fake{}, io.Discard), r); rec.Code != 401 || !strings.Contains(errorText(t, rec), "exactly one Authorization") {
		t.Fatalf("two Authorization headers: %d %s", rec.Code, rec.Body)
	}
}

func TestStrictJSON(t *testing.T) {
	f := &fake{createGoal: func(alice.Conversation, alice.GoalCreate) (*alice.Goal, error) { return &alice.Goal{ID: "goal_1"}, nil }}
	h := handler(f, io.Discard)
	tests := []struct{ body, want string }{
		{`{"Description":"x"}`, `unknown field "Description"`},
		{`{"description":"a","description":"b"}`, `field "description" is given more than once`},
		{"{\"description\":\"\xff\"}", "not valid UTF-8"},
		{`{"description":"\ud800"}`, "lone UTF-16 surrogate"},
		{`{"description":"x"} {}`, "unexpected data after the JSON object"},
		{`[{"description":"x"}]`, "must be a JSON object, not an array"},
		{`{"description":5}`, `field "description" must be a string, not a number`},
		{`{"description":"x"`, "ends early"},
		{`{"nope":1}`, `unknown field "nope"`},
		{``, "request body is empty"},
	}
	for _, tt := range tests {
		rec := do(h, req("POST", "/api/v1/goal", tt.body))
		if rec.Code != 400 || !strings.Contains(errorText(t, rec), tt.want) {
			t.Errorf("body %q: %d %s; want 400 with %q", tt.body, rec.Code, rec.Body, tt.want)
		}
	}
	// Task inputs too: a mistyped field is named with the type it wants.
	ft := &fake{createTask: func(alice.TaskCreate) (*alice.Task, error) { return &alice.Task{ID: "task_1"}, nil }}
	rec := do(handler(ft, io.Discard), req("POST", "/api/v1/automation/tasks", `{"scope_type":"chat","max_runs":"3"}`))
	if rec.Code != 400 || !strings.Contains(errorText(t, rec), `field "max_runs" must be a number, not a string`) {
		t.Fatalf("mistyped max_runs: %d %s", rec.Code, rec.Body)
	}
}

func TestErrorsQuoteLittleOfTheInput(t *testing.T) {
	huge := strings.Repeat("x", 900<<10)
	ft := &fake{createTask: func(r alice.TaskCreate) (*alice.Task, error) {
		_, err := alice.ParseScope(r.Input.ScopeType.Value, r.Input.ScopeID.Value)
		return nil, err
	}}
	rec := do(handler(ft, io.Discard), req("POST", "/api/v1/automation/tasks", `{"scope_type":"`+huge+`"}`))
	if rec.Code != 400 || rec.Body.Len() > 400 {
		t.Fatalf("a 900 KB scope_type gave %d with a %d-byte body", rec.Code, rec.Body.Len())
	}
	rec = do(handler(&fake{}, io.Discard), req("POST", "/api/v1/goal", `{"`+huge+`":1}`))
	if rec.Code != 400 || rec.Body.Len() > 400 {
		t.Fatalf("a 900 KB field name gave %d with a %d-byte body", rec.Code, rec.Body.Len())
	}
}

func TestOptionsIsNotAllowedAndNotOffered(t *testing.T) {
	rec := do(handler(&fake{}, io.Discard), req("OPTIONS", "/api/v1/goal", ""))
	allow := rec.Header().Get("Allow")
	if rec.Code != 405 || strings.Contains(allow, "OPTIONS") || !strings.Contains(allow, "GET") {
		t.Fatalf("OPTIONS: %d Allow %q; want 405 without OPTIONS in Allow", rec.Code, allow)
	}
	errorText(t, rec)
}

func TestRequestsReachTheServices(t *testing.T) {
	var gotCreate alice.TaskCreate
	var gotFilter alice.TaskFilter
	var gotPage alice.Page
	var gotSend alice.MessageSend
	var gotConv alice.Conversation
	f := &fake{
		createTask: func(r alice.TaskCreate) (*alice.Task, error) { gotCreate = r; return &alice.Task{ID: "task_1"}, nil },
		listTasks: func(f alice.TaskFilter, p alice.Page) ([]alice.Task, int, error) {
			gotFilter, gotPage = f, p
			return []alice.Task{{ID: "task_1"}}, 7, nil
		},
		send: func(c alice.Conversation, r alice.MessageSend) (string, error) {
			gotConv, gotSend = c, r
			return "om_1", nil
		},
	}
	h := handler(f, io.Discard)

	rec := do(h, req("POST", "/api/v1/automation/tasks", `{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi"}`, "Idempotency-Key", "k-1"))
	if rec.Code != 201 || rec.Header().Get("Location") != "/api/v1/automation/tasks/task_1" || gotCreate.IdempotencyKey != "k-1" ||
		gotCreate.Input.Text.Value != "hi" || gotCreate.Input.Cron.Set {
		t.Fatalf("create: %d %s %+v", rec.Code, rec.Header(), gotCreate)
	}
	rec = do(h, req("GET", "/api/v1/automation/tasks?status=paused&scope_type=user&scope_id=ou_1&limit=5&offset=10", ""))
	if rec.Code != 200 || rec.Header().Get("X-Total-Count") != "7" || gotFilter != (alice.TaskFilter{Status: alice.TaskPaused, ScopeType: alice.ScopeUser, ScopeID: "ou_1"}) || gotPage != (alice.Page{Offset: 10, Limit: 5}) {
		t.Fatalf("list: %d %s %+v %+v", rec.Code, rec.Header(), gotFilter, gotPage)
	}

	png := testimages.Samples(t)["png"]
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "../../etc/a.png")
	fw.Write(png)
	mw.WriteField("caption", "look")
	mw.Close()
	rec = do(h, req("POST", "/api/v1/messages/image", body.String(), "Content-Type", mw.FormDataContentType(), "X-Alice-Source-Message-Id", "om_src"))
	if rec.Code != 200 || gotSend.Message.Kind != alice.KindImage || gotSend.Message.FileName != "a.png" || gotSend.Message.Caption != "look" ||
		gotSend.Message.ReplyTo != "om_src" || !bytes.Equal(gotSend.Message.Data, png) || gotConv.ReceiveID != "oc_1" {
		t.Fatalf("send image: %d %s %+v", rec.Code, rec.Body, gotSend.Message)
	}

	body.Reset()
	mw = multipart.NewWriter(&body)
	mw.WriteField("file_key", "file_v2_abc")
	mw.Close()
	rec = do(h, req("POST", "/api/v1/messages/file", body.String(), "Content-Type", mw.FormDataContentType()))
	if rec.Code != 200 || gotSend.Message.Key != "file_v2_abc" || len(gotSend.Message.Data) != 0 {
		t.Fatalf("send by key: %d %s %+v", rec.Code, rec.Body, gotSend.Message)
	}
	body.Reset()
	mw = multipart.NewWriter(&body)
	fw, _ = mw.CreateFormFile("file", "a.txt")
	fw.Write([]byte("x"))
	mw.WriteField("file_key", "file_v2_abc")
	mw.Close()
	rec = do(h, req("POST", "/api/v1/messages/file", body.String(), "Content-Type", mw.FormDataContentType()))
	if rec.Code != 400 || !strings.Contains(errorText(t, rec), "not both") {
		t.Fatalf("file and key: %d %s", rec.Code, rec.Body)
	}
}
