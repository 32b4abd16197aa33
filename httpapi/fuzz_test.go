package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/testimages"
)

// fuzzRoutes are the requests that carry a body or a query.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/v1/goal"},
	{"POST", "/api/v1/goal/delay"},
	{"POST", "/api/v1/automation/tasks"},
	{"PATCH", "/api/v1/automation/tasks/task_01jhmk1sm0bkjcjnbkv09hm1jz"},
	{"POST", "/api/v1/messages/image"},
	{"POST", "/api/v1/messages/file"},
	{"GET", "/api/v1/automation/tasks?"},
	{"GET", "/api/v1/messages?"},
}

// domainFake answers as the real services validate: the goal and task
// rules of the domain, so that what the decoders let through meets them.
func domainFake() *fake {
	f := &fake{}
	f.createGoal = func(_ alice.Conversation, r alice.GoalCreate) (*alice.Goal, error) {
		g, _, err := alice.ApplyGoal(nil, alice.GoalCommand{Op: alice.OpCreate, Description: r.Description, DeadlineIn: r.DeadlineIn},
			alice.GoalRules{}, time.Now(), func() string { return "goal_1" })
		return g, err
	}
	f.createTask = func(r alice.TaskCreate) (*alice.Task, error) {
		return alice.NewTask(r.Input, alice.TaskRules{Zone: time.UTC, HasLLM: true}, "task_1", time.Now())
	}
	f.listTasks = func(alice.TaskFilter, alice.Page) ([]alice.Task, int, error) { return []alice.Task{}, 0, nil }
	f.send = func(alice.Conversation, alice.MessageSend) (string, error) { return "om_1", nil }
	return f
}

// FuzzRequests sends any body, content type and query to every route that
// reads one, through the whole handler: the answer is never a 5xx, and
// every refusal is a JSON error that names the problem briefly.
func FuzzRequests(f *testing.F) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("image", "shot.png")
	part.Write(testimages.Samples(f)["png"])
	mw.WriteField("caption", "look")
	mw.Close()
	seeds := []struct {
		route       uint8
		contentType string
		body        []byte
	}{
		{0, "application/json", []byte(`{"objective":"ship it","deadline_in":"48h"}`)},
		{0, "application/json", []byte(`{"description":"a","description":"b"}`)},
		{1, "application/json", []byte(`{"duration":"8m","reason":"CI"}`)},
		{2, "application/json", []byte(`{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"hi","cron":"@daily"}`)},
		{2, "application/json", []byte(`{"scope_type":"chat","scope_id":"oc_1","action":"send_text","text":"x","run_at":"9999-12-31T23:59:59-23:59"}`)},
		{3, "application/merge-patch+json", []byte(`{"status":"paused","cron":null}`)},
		{4, mw.FormDataContentType(), form.Bytes()},
		{5, "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../etc/passwd\"\r\n\r\nroot\r\n--x--\r\n")},
		{6, "", []byte("limit=200&offset=3&status=paused&scope_type=chat&scope_id=oc_1")},
		{7, "", []byte("limit=0&offset=-1")},
	}
	for _, s := range seeds {
		f.Add(s.route, s.contentType, s.body)
	}
	h := handler(domainFake(), io.Discard, func(c *Config) { c.RateLimitPerMinute = 0 })
	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path, reqBody := rt.path, string(body)
		if strings.HasSuffix(path, "?") {
			path, reqBody = path+string(body), ""
			if strings.ContainsAny(path, " \r\n#") {
				return // not a request line a client can send
			}
		}
		r := httptest.NewRequest(rt.method, "/", strings.NewReader(reqBody))
		r.URL.RawQuery = ""
		if u, err := r.URL.Parse(path); err == nil {
			r.URL = u
		} else {
			return
		}
		r.Host = "127.0.0.1:7331"
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
		r.Header.Set("X-Alice-Receive-Id", "oc_1")
		r.Header.Set("Content-Type", contentType)
		rec := do(h, r)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%q, %q) → %d %s", rt.method, path, contentType, body, rec.Code, rec.Body)
		}
		if rec.Code < 400 {
			return
		}
		var e struct{ Error string }
		if rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
			t.Fatalf("%s %s → %d with a body that is not a JSON error: %q", rt.method, path, rec.Code, rec.Body)
		}
		if len(e.Error) > 1024 {
			t.Fatalf("%s %s → an error of %d bytes: it quotes too much of the input", rt.method, path, len(e.Error))
		}
	})
}
