package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/await"
	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/internal/feishutest"
	"github.com/alice-runtime/alice/internal/testimages"
)

// part is one part of a multipart body; file parts have a filename.
type part struct {
	name, filename string
	data           []byte
}

func multipartBody(t *testing.T, parts ...part) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// upload posts a multipart body to path in conversation oc_msg.
func (in *instance) upload(path, contentType string, body []byte, chunked bool, header map[string]string) answer {
	in.t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = struct{ io.Reader }{r} // unknown length: sent chunked
	}
	req, _ := http.NewRequest("POST", in.base+path, r)
	req.Header.Set("Authorization", "Bearer "+in.token)
	req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
	req.Header.Set("X-Alice-Receive-Id", "oc_msg")
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return in.send(req)
}

// messages lists conv's outbox, failing unless it holds wantTotal
// messages (any number when wantTotal is negative).
func (in *instance) messages(conv string, wantTotal int) []alice.Message {
	in.t.Helper()
	a := in.do(call{method: "GET", path: "/api/v1/messages", conv: conv})
	if a.status != 200 || wantTotal >= 0 && a.header.Get("X-Total-Count") != fmt.Sprint(wantTotal) {
		in.t.Fatalf("GET /api/v1/messages: %d total %q, want total %d (%s)", a.status, a.header.Get("X-Total-Count"), wantTotal, a.body)
	}
	var items []alice.Message
	a.json(in.t, &items)
	return items
}

func TestSendEveryImageFormat(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	formats := testimages.Samples(t)
	want := 0
	for format, data := range formats {
		// The name says .txt: the format comes from the bytes.
		ct, body := multipartBody(t, part{name: "image", filename: "picture.txt", data: data}, part{name: "caption", data: []byte("a " + format)})
		a := in.upload("/api/v1/messages/image", ct, body, false, nil)
		if a.status != 200 {
			t.Fatalf("%s: %d %s", format, a.status, a.body)
		}
		var res struct {
			MessageID string `json:"message_id"`
		}
		a.json(t, &res)
		if !strings.HasPrefix(res.MessageID, "om_") {
			t.Fatalf("%s: message id %q", format, res.MessageID)
		}
		want++
		content := in.do(call{method: "GET", path: "/api/v1/messages/" + res.MessageID + "/content", conv: "oc_msg"})
		if content.status != 200 || !bytes.Equal(content.body, data) {
			t.Fatalf("%s: content %d, %d bytes, want the %d uploaded", format, content.status, len(content.body), len(data))
		}
		wantCT := "image/" + format
		if format == "ico" {
			wantCT = "image/x-icon"
		}
		if got := content.header.Get("Content-Type"); got != wantCT {
			t.Fatalf("%s: Content-Type %q, want %q", format, got, wantCT)
		}
	}
	items := in.messages("oc_msg", want)
	for _, it := range items {
		if it.Kind != "image" || !strings.HasPrefix(it.Caption, "a ") || it.FileName != "picture.txt" || it.Size == 0 || len(it.SHA256) != 64 {
			t.Fatalf("listed item %+v", it)
		}
	}
}

func TestSendFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := start(t, dir, "", Options{})
	data := []byte("%PDF-1.7\nnot really a pdf, but any bytes are a file\n")
	ct, body := multipartBody(t, part{name: "file", filename: "upload.bin", data: data}, part{name: "filename", data: []byte("report.pdf")}, part{name: "caption", data: []byte("Q3 report")})
	a := in.upload("/api/v1/messages/file", ct, body, false, map[string]string{"X-Alice-Source-Message-Id": "om_trigger"})
	if a.status != 200 {
		t.Fatalf("send file: %d %s", a.status, a.body)
	}
	// A file without filename part keeps its uploaded name.
	ct, body = multipartBody(t, part{name: "file", filename: "../../etc/notes.txt", data: []byte("hello")})
	if a := in.upload("/api/v1/messages/file", ct, body, true, nil); a.status != 200 {
		t.Fatalf("send chunked file: %d %s", a.status, a.body)
	}
	items := in.messages("oc_msg", 2)
	sum := sha256.Sum256(data)
	first := items[0]
	if first.Kind != "file" || first.FileName != "report.pdf" || first.Caption != "Q3 report" || first.ReplyTo != "om_trigger" || first.Size != len(data) || first.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("first item %+v", first)
	}
	if items[1].FileName != "notes.txt" || items[1].ReplyTo != "" {
		t.Fatalf("second item %+v: want the base name and no reply", items[1])
	}
	content := in.do(call{method: "GET", path: "/api/v1/messages/" + first.ID + "/content", conv: "oc_msg"})
	if content.status != 200 || !bytes.Equal(content.body, data) || content.header.Get("Content-Type") != "application/pdf" || !strings.Contains(content.header.Get("Content-Disposition"), "report.pdf") {
		t.Fatalf("content %d %v", content.status, content.header)
	}
	// Other conversations see neither the list nor the content.
	in.messages("oc_other", 0)
	if a := in.do(call{method: "GET", path: "/api/v1/messages/" + first.ID + "/content", conv: "oc_other"}); a.status != 404 {
		t.Fatalf("content from another conversation: %d", a.status)
	}
	in.stop()
	in = start(t, dir, "", Options{})
	if again := in.messages("oc_msg", 2); again[0].ID != first.ID {
		t.Fatalf("after restart: %+v", again)
	}
}

func TestMessageRequestsRefused(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	png := testimages.Samples(t)["png"]
	big := bytes.Repeat([]byte{0}, 1<<20)
	okCT, okBody := multipartBody(t, part{name: "image", filename: "a.png", data: png})
	tests := []struct {
		name, path, contentType string
		body                    []byte
		chunked                 bool
		status                  int
		want                    string
	}{
		{"not an image", "/api/v1/messages/image", "", nil, false, 400, "not a JPEG, PNG"},
		{"empty image", "/api/v1/messages/image", "", nil, false, 400, "the image is empty"},
		{"missing part", "/api/v1/messages/image", "", nil, false, 400, "missing part image"},
		{"part named wrongly", "/api/v1/messages/image", "", nil, false, 400, `unexpected part "picture"`},
		{"two files", "/api/v1/messages/image", "", nil, false, 400, "only one image part"},
		{"two files on /file", "/api/v1/messages/file", "", nil, false, 400, "only one file part"},
		{"not multipart", "/api/v1/messages/image", "application/json", []byte(`{"image":"x"}`), false, 400, "multipart/form-data"},
		{"no boundary", "/api/v1/messages/image", "multipart/form-data", okBody, false, 400, "boundary"},
		{"wrong boundary", "/api/v1/messages/image", "multipart/form-data; boundary=nope", okBody, false, 400, "malformed multipart"},
		{"truncated body", "/api/v1/messages/image", okCT, okBody[:len(okBody)-10], false, 400, "malformed multipart"},
		{"over 1 MB", "/api/v1/messages/file", "", nil, false, 413, "request body exceeds 1 MB"},
		{"over 1 MB chunked", "/api/v1/messages/file", "", nil, true, 413, "request body exceeds 1 MB"},
	}
	bodies := map[string]func() (string, []byte){
		"not an image": func() (string, []byte) {
			return multipartBody(t, part{name: "image", filename: "a.png", data: []byte("hello, I am text")})
		},
		"empty image":        func() (string, []byte) { return multipartBody(t, part{name: "image", filename: "a.png", data: nil}) },
		"missing part":       func() (string, []byte) { return multipartBody(t, part{name: "caption", data: []byte("c")}) },
		"part named wrongly": func() (string, []byte) { return multipartBody(t, part{name: "picture", filename: "a.png", data: png}) },
		"two files": func() (string, []byte) {
			return multipartBody(t, part{name: "image", filename: "a.png", data: png}, part{name: "image", filename: "b.png", data: png})
		},
		"two files on /file": func() (string, []byte) {
			return multipartBody(t, part{name: "file", filename: "a", data: png}, part{name: "file", filename: "b", data: png})
		},
		"over 1 MB":         func() (string, []byte) { return multipartBody(t, part{name: "file", filename: "big", data: big}) },
		"over 1 MB chunked": func() (string, []byte) { return multipartBody(t, part{name: "file", filename: "big", data: big}) },
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := tt.contentType, tt.body
			if f, ok := bodies[tt.name]; ok {
				ct, body = f()
			}
			a := in.upload(tt.path, ct, body, tt.chunked, nil)
			if a.status != tt.status {
				t.Fatalf("status %d (%s), want %d", a.status, a.body, tt.status)
			}
			if msg := a.errorText(t); !strings.Contains(msg, tt.want) {
				t.Fatalf("error %q does not mention %q", msg, tt.want)
			}
		})
	}
	// The limit is on the whole body: a multipart body of exactly 1 MB is
	// served, one of 1 MB + 1 byte is not.
	sized := func(total int) (string, []byte) {
		_, empty := multipartBody(t, part{name: "file", filename: "f", data: nil})
		overhead := len(empty) // the boundary is always 60 characters
		return multipartBody(t, part{name: "file", filename: "f", data: bytes.Repeat([]byte{'x'}, total-overhead)})
	}
	for _, chunked := range []bool{false, true} {
		ct, body := sized(1 << 20)
		if len(body) != 1<<20 {
			t.Fatalf("built %d bytes, want exactly 1 MB", len(body))
		}
		if a := in.upload("/api/v1/messages/file", ct, body, chunked, nil); a.status != 200 {
			t.Fatalf("chunked=%v: exactly 1 MB of multipart: %d %s", chunked, a.status, a.body)
		}
		ct, body = sized(1<<20 + 1)
		if a := in.upload("/api/v1/messages/file", ct, body, chunked, nil); a.status != 413 {
			t.Fatalf("chunked=%v: 1 MB + 1 byte of multipart: %d, want 413", chunked, a.status)
		}
	}

	// Only the two exactly-1 MB files were stored; the conversation headers
	// are required.
	in.messages("oc_msg", 2)
	req, _ := http.NewRequest("POST", in.base+"/api/v1/messages/image", bytes.NewReader(okBody))
	req.Header.Set("Authorization", "Bearer "+in.token)
	req.Header.Set("Content-Type", okCT)
	if a := in.send(req); a.status != 400 || !strings.Contains(a.errorText(t), "X-Alice-Receive-Id-Type") {
		t.Fatalf("without conversation headers: %d %s", a.status, a.body)
	}
}

func TestMessagePermission(t *testing.T) {
	in := start(t, t.TempDir(), "bots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    permissions: {runtime_message: false}\n", Options{})
	ct, body := multipartBody(t, part{name: "image", filename: "a.png", data: testimages.Samples(t)["png"]})
	a := in.upload("/api/v1/messages/image", ct, body, false, nil)
	if a.status != 403 || !strings.Contains(a.errorText(t), "permissions.runtime_message") {
		t.Fatalf("image with messages off: %d %s", a.status, a.body)
	}
	in.messages("oc_msg", 0) // reading is still allowed
}

func TestOutboxRetention(t *testing.T) {
	clock := fakeclock.New(time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	cfg := "bots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    rate_limit_per_minute: 0\n    outbox: {max_messages: 3, max_age: 24h}\n"
	in := start(t, dir, cfg, Options{Clock: clock})
	var ids []string
	for i := 0; i < 5; i++ {
		ct, body := multipartBody(t, part{name: "file", filename: fmt.Sprintf("f%d", i), data: []byte{byte(i) + 1}})
		a := in.upload("/api/v1/messages/file", ct, body, false, nil)
		var res struct {
			MessageID string `json:"message_id"`
		}
		a.json(t, &res)
		ids = append(ids, res.MessageID)
		clock.Advance(time.Hour)
	}
	items := in.messages("oc_msg", 3)
	if items[0].ID != ids[2] || items[2].ID != ids[4] {
		t.Fatalf("kept %v, want the newest three of %v", items, ids)
	}
	if a := in.do(call{method: "GET", path: "/api/v1/messages/" + ids[0] + "/content", conv: "oc_msg"}); a.status != 404 {
		t.Fatalf("pruned message's content: %d, want 404", a.status)
	}
	// A day later every message is past max_age. The timer service finds
	// the overdue prune at start and delivers it on its own goroutine, so
	// the listing may see the messages until that prune commits.
	in.stop()
	clock.Advance(24 * time.Hour)
	in = start(t, dir, cfg, Options{Clock: clock})
	await.Until(t, 10*time.Second, "the overdue prune at start", func() bool { return len(in.messages("oc_msg", -1)) == 0 })
	in.messages("oc_msg", 0)
}

func TestFeishuMessengerEndToEnd(t *testing.T) {
	platform := feishutest.New("cli_e2e", "e2e-secret-value")
	defer platform.Close()
	t.Setenv("E2E_FEISHU_SECRET", "e2e-secret-value")
	in := start(t, t.TempDir(), fmt.Sprintf(`bots:
  main:
    runtime_http_addr: 127.0.0.1:0
    feishu: {app_id: cli_e2e, app_secret_env: E2E_FEISHU_SECRET, base_url: %q}
`, platform.URL), Options{})
	png := testimages.Samples(t)["png"]
	ct, body := multipartBody(t, part{name: "image", filename: "a.png", data: png}, part{name: "caption", data: []byte("hello")})
	a := in.upload("/api/v1/messages/image", ct, body, false, map[string]string{"X-Alice-Source-Message-Id": "om_src"})
	if a.status != 200 {
		t.Fatalf("send through feishu: %d %s", a.status, a.body)
	}
	reqs := platform.Requests()
	if len(reqs) != 3 || !bytes.Equal(reqs[0].FileData, png) || reqs[1].Path != "/open-apis/im/v1/messages/om_src/reply" {
		t.Fatalf("platform saw %+v", reqs)
	}
	// A platform refusal is a 502 naming its code and message.
	platform.FailNext("/open-apis/im/v1/images", feishutest.Failure{Status: 400, Code: 234011, Msg: "Can't regonize the image format."})
	a = in.upload("/api/v1/messages/image", ct, body, false, nil)
	if a.status != 502 {
		t.Fatalf("platform refusal: %d %s, want 502", a.status, a.body)
	}
	if msg := a.errorText(t); !strings.Contains(msg, "234011") || !strings.Contains(msg, "regonize") || strings.Contains(msg, "e2e-secret-value") {
		t.Fatalf("502 error %q", msg)
	}
	// The local outbox is not in use.
	if a := in.do(call{method: "GET", path: "/api/v1/messages", conv: "oc_msg"}); a.status != 404 {
		t.Fatalf("listing with feishu: %d", a.status)
	}
}
