package feishu

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/internal/feishutest"
	"github.com/alice-runtime/alice/messenger"
)

const secret = "s3cret-app-secret-value"

func newClient(t *testing.T, logs *strings.Builder) (*Client, *feishutest.Server, *fakeclock.Clock) {
	t.Helper()
	platform := feishutest.New("cli_test", secret)
	t.Cleanup(platform.Close)
	clock := fakeclock.New(time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC))
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := New(Config{AppID: "cli_test", AppSecret: secret, BaseURL: platform.URL, Clock: clock, Logger: logger, Backoff: time.Millisecond})
	return c, platform, clock
}

var chat = messenger.Target{Scope: alice.Scope{Type: alice.ScopeChat, ID: "oc_1"}, ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_1"}

func content(t *testing.T, r feishutest.Request) map[string]string {
	t.Helper()
	var c map[string]string
	if err := json.Unmarshal([]byte(r.Fields["content"]), &c); err != nil {
		t.Fatalf("content %q: %v", r.Fields["content"], err)
	}
	return c
}

func TestTokenIsCachedAndRefreshed(t *testing.T) {
	c, platform, clock := newClient(t, nil)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.Send(ctx, chat, alice.Outgoing{Kind: alice.KindText, Text: "hi"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := platform.TokenCalls(); n != 1 {
		t.Fatalf("%d token requests for three sends, want 1", n)
	}
	for _, r := range platform.Requests() {
		if r.Authorization != "Bearer t-1" {
			t.Fatalf("Authorization %q", r.Authorization)
		}
	}
	// Shortly before expiry (2 h), a new token is fetched.
	clock.Advance(2*time.Hour - 4*time.Minute)
	c.Send(ctx, chat, alice.Outgoing{Kind: alice.KindText, Text: "hi"}, "")
	if n := platform.TokenCalls(); n != 2 {
		t.Fatalf("%d token requests near expiry, want 2", n)
	}
	// A token the platform rejects is refreshed once and the call retried.
	platform.RevokeTokens()
	if _, err := c.Send(ctx, chat, alice.Outgoing{Kind: alice.KindText, Text: "after revoke"}, ""); err != nil {
		t.Fatalf("send after revocation: %v", err)
	}
	if n := platform.TokenCalls(); n != 3 {
		t.Fatalf("%d token requests after a rejection, want 3", n)
	}
}

func TestSendShapes(t *testing.T) {
	c, platform, _ := newClient(t, nil)
	ctx := context.Background()
	user := messenger.TargetOf(alice.Scope{Type: alice.ScopeUser, ID: "ou_42"})

	id, err := c.Send(ctx, user, alice.Outgoing{Kind: alice.KindText, Text: "hello"}, "occ_1")
	if err != nil || !strings.HasPrefix(id, "om_") {
		t.Fatalf("text: %q %v", id, err)
	}
	imgID, err := c.Send(ctx, chat, alice.Outgoing{Kind: alice.KindImage, FileName: "a.png", Data: []byte("png-bytes"), Caption: "look", ReplyTo: "om_src"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, chat, alice.Outgoing{Kind: alice.KindFile, FileName: "Q3.xlsx", Data: []byte("xls-bytes")}, ""); err != nil {
		t.Fatal(err)
	}
	reqs := platform.Requests()
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6 (text; image upload, reply, caption reply; file upload, send)", len(reqs))
	}
	text := reqs[0]
	if text.Path != "/open-apis/im/v1/messages" || text.Query != "receive_id_type=open_id" || text.Fields["receive_id"] != "ou_42" || text.Fields["msg_type"] != "text" || content(t, text)["text"] != "hello" {
		t.Fatalf("text request %+v", text)
	}
	if u := text.Fields["uuid"]; u == "" || len(u) > 50 {
		t.Fatalf("uuid %q: want the idempotency key as a uuid of at most 50 characters", u)
	}
	up := reqs[1]
	if up.Path != "/open-apis/im/v1/images" || up.Fields["image_type"] != "message" || up.FileField != "image" || string(up.FileData) != "png-bytes" {
		t.Fatalf("image upload %+v", up)
	}
	reply := reqs[2]
	if reply.Path != "/open-apis/im/v1/messages/om_src/reply" || reply.Fields["msg_type"] != "image" || content(t, reply)["image_key"] == "" || reply.Fields["receive_id"] != "" {
		t.Fatalf("image reply %+v", reply)
	}
	if caption := reqs[3]; caption.Path != reply.Path || caption.Fields["msg_type"] != "text" || content(t, caption)["text"] != "look" {
		t.Fatalf("caption %+v", caption)
	}
	if !strings.HasPrefix(imgID, "om_") {
		t.Fatalf("image message id %q", imgID)
	}
	file := reqs[4]
	if file.Path != "/open-apis/im/v1/files" || file.Fields["file_type"] != "xls" || file.Fields["file_name"] != "Q3.xlsx" || file.FileField != "file" {
		t.Fatalf("file upload %+v", file)
	}
	if send := reqs[5]; send.Fields["msg_type"] != "file" || content(t, send)["file_key"] == "" || send.Query != "receive_id_type=chat_id" {
		t.Fatalf("file send %+v", send)
	}
}

func TestSameIdempotencyKeySendsOnce(t *testing.T) {
	c, _, _ := newClient(t, nil)
	a, err1 := c.Send(context.Background(), chat, alice.Outgoing{Kind: alice.KindText, Text: "x"}, "occ_7")
	b, err2 := c.Send(context.Background(), chat, alice.Outgoing{Kind: alice.KindText, Text: "x"}, "occ_7")
	if err1 != nil || err2 != nil || a != b {
		t.Fatalf("two sends with one key: %q %v, %q %v; want one message", a, err1, b, err2)
	}
}

func TestFileTypes(t *testing.T) {
	for name, want := range map[string]string{
		"voice.opus": "opus", "clip.MP4": "mp4", "report.pdf": "pdf", "a.doc": "doc", "a.docx": "doc",
		"a.xls": "xls", "a.xlsx": "xls", "a.ppt": "ppt", "a.pptx": "ppt", "archive.zip": "stream", "README": "stream",
	} {
		if got := FileType(name); got != want {
			t.Errorf("FileType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestRetriesServerErrorsOnly(t *testing.T) {
	var logs strings.Builder
	c, platform, _ := newClient(t, &logs)
	ctx := context.Background()
	platform.FailNext("/open-apis/im/v1/messages", feishutest.Failure{Status: 503, Code: 1, Msg: "busy"})
	if _, err := c.Send(ctx, chat, alice.Outgoing{Kind: alice.KindText, Text: "retry me"}, ""); err != nil {
		t.Fatalf("send after one 503: %v", err)
	}
	if n := len(platform.Requests()); n != 2 {
		t.Fatalf("%d requests, want the 503 and one retry", n)
	}

	platform.FailNext("/open-apis/im/v1/messages", feishutest.Failure{Status: 400, Code: 230002, Msg: "Bot/User can NOT be out of the chat."})
	_, err := c.Send(ctx, chat, alice.Outgoing{Kind: alice.KindText, Text: "no retry"}, "")
	if alice.ErrorCode(err) != alice.EUpstream || !strings.Contains(err.Error(), "230002") || !strings.Contains(err.Error(), "out of the chat") {
		t.Fatalf("business error: %v; want an upstream error with the code and message", err)
	}
	if n := len(platform.Requests()); n != 3 {
		t.Fatalf("%d requests, want no retry of a business error", n)
	}

	platform.FailNext("/open-apis/im/v1/messages", feishutest.Failure{Status: 500}, feishutest.Failure{Status: 502}, feishutest.Failure{Status: 503}, feishutest.Failure{Status: 504})
	if _, err := c.Send(ctx, chat, alice.Outgoing{Kind: alice.KindText, Text: "give up"}, ""); alice.ErrorCode(err) != alice.EUpstream || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Fatalf("persistent 5xx: %v", err)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(err.Error(), secret) {
		t.Fatal("the app secret appears in logs or errors")
	}
}

func TestWrongSecretIsAClearError(t *testing.T) {
	platform := feishutest.New("cli_test", secret)
	defer platform.Close()
	c := New(Config{AppID: "cli_test", AppSecret: "wrong-secret", BaseURL: platform.URL})
	_, err := c.Send(context.Background(), chat, alice.Outgoing{Kind: alice.KindText, Text: "x"}, "")
	if alice.ErrorCode(err) != alice.EUpstream || !strings.Contains(err.Error(), "10014") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestLargeImageFallsBackToFile(t *testing.T) {
	c, platform, _ := newClient(t, nil)
	c.cfg.ImageLimit = 4
	if _, err := c.Send(context.Background(), chat, alice.Outgoing{Kind: alice.KindImage, FileName: "big.png", Data: []byte("more than four bytes")}, ""); err != nil {
		t.Fatal(err)
	}
	reqs := platform.Requests()
	if reqs[0].Path != "/open-apis/im/v1/files" || reqs[0].Fields["file_type"] != "stream" || reqs[1].Fields["msg_type"] != "file" {
		t.Fatalf("requests %+v; want a file upload and a file message", reqs)
	}
}

// TestSecretFromTheEnvironment: the secret's variable is read when a token
// is needed, so the client is built without it and says what is missing;
// once set, Check proves the credentials with one token request.
func TestSecretFromTheEnvironment(t *testing.T) {
	platform := feishutest.New("cli_test", secret)
	defer platform.Close()
	env := map[string]string{}
	c := New(Config{AppID: "cli_test", AppSecretEnv: "TEST_FEISHU_SECRET", BaseURL: platform.URL,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err := c.Check(context.Background()); alice.ErrorCode(err) != alice.EUpstream || !strings.Contains(err.Error(), "TEST_FEISHU_SECRET") || len(platform.Requests()) != 0 {
		t.Fatalf("without the secret: %v, %d requests", err, len(platform.Requests()))
	}
	env["TEST_FEISHU_SECRET"] = secret
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("with the secret: %v", err)
	}
}
