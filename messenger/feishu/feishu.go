// Package feishu is a messenger that delivers through the Feishu (Lark) Open
// Platform with net/http: tenant access tokens, image and file uploads, and
// message send and reply. The official SDK is not available from the module
// proxy; the protocol is small enough to speak directly.
package feishu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/messenger"
)

// ImageLimit is the platform's limit for uploaded images (10 MB); larger
// images are sent as files.
const ImageLimit = 10 << 20

// Config configures a Client.
type Config struct {
	AppID, AppSecret string
	// AppSecretEnv names the variable that holds the secret instead; it is
	// read when a token is needed, so a runtime starts without it.
	AppSecretEnv string
	LookupEnv    func(string) (string, bool) // default os.LookupEnv
	BaseURL      string                      // e.g. https://open.feishu.cn
	HTTP         *http.Client                // default: 30 s timeout
	Clock        alice.Clock                 // default: system clock
	Logger       *slog.Logger                // default: slog.Default(); never sees the secret
	Retries      int                         // extra attempts on transport errors and 5xx; default 3
	Backoff      time.Duration
	ImageLimit   int64 // default ImageLimit
}

// Client is a messenger.Messenger for one Feishu app (one bot).
type Client struct {
	cfg Config

	mu      sync.Mutex
	token   string
	expires time.Time
}

var _ messenger.Messenger = (*Client)(nil)

// New returns a client. It makes no request until the first send.
func New(cfg Config) *Client {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = alice.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	if cfg.ImageLimit <= 0 {
		cfg.ImageLimit = ImageLimit
	}
	if cfg.LookupEnv == nil {
		cfg.LookupEnv = os.LookupEnv
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Client{cfg: cfg}
}

// Send implements messenger.Messenger. Images and files are uploaded (or
// sent by the key the platform already holds), then sent, or sent as a
// reply; a caption follows as a text message. The returned id is the
// attachment's message id.
func (c *Client) Send(ctx context.Context, to messenger.Target, m alice.Outgoing, dedupeKey string) (string, error) {
	var msgType string
	var content any
	switch m.Kind {
	case alice.KindText:
		msgType, content = "text", map[string]string{"text": m.Text}
	case alice.KindImage:
		if m.Key == "" && int64(len(m.Data)) > c.cfg.ImageLimit {
			m.Kind = alice.KindFile
			return c.Send(ctx, to, m, dedupeKey)
		}
		key := m.Key
		if key == "" {
			var err error
			if key, err = c.uploadImage(ctx, m); err != nil {
				return "", err
			}
		}
		msgType, content = "image", map[string]string{"image_key": key}
	case alice.KindFile:
		key := m.Key
		if key == "" {
			var err error
			if key, err = c.uploadFile(ctx, m); err != nil {
				return "", err
			}
		}
		msgType, content = "file", map[string]string{"file_key": key}
	default:
		return "", fmt.Errorf("feishu: unknown message kind %q", m.Kind)
	}
	id, err := c.post(ctx, to, m.ReplyTo, msgType, content, uuidOf(dedupeKey, ""))
	if err != nil || m.Caption == "" {
		return id, err
	}
	if _, err := c.post(ctx, to, m.ReplyTo, "text", map[string]string{"text": m.Caption}, uuidOf(dedupeKey, "caption")); err != nil {
		return id, fmt.Errorf("the attachment was sent as %s, but its caption was not: %w", id, err)
	}
	return id, nil
}

// uuidOf derives the platform's dedupe key (at most 50 characters, honoured
// for an hour) from our idempotency key; "" sends without one.
func uuidOf(key, part string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key + "\x00" + part))
	return hex.EncodeToString(sum[:16])
}

// post sends (or replies with) one message and returns its id.
func (c *Client) post(ctx context.Context, to messenger.Target, replyTo, msgType string, content any, uuid string) (string, error) {
	contentJSON, err := json.Marshal(content)
	if err != nil {
		return "", err
	}
	body := map[string]string{"msg_type": msgType, "content": string(contentJSON)}
	if uuid != "" {
		body["uuid"] = uuid
	}
	path := "/open-apis/im/v1/messages?receive_id_type=" + url.QueryEscape(string(to.ReceiveIDType))
	op := "send message"
	if replyTo != "" {
		path, op = "/open-apis/im/v1/messages/"+url.PathEscape(replyTo)+"/reply", "reply to "+replyTo
	} else {
		body["receive_id"] = to.ReceiveID
	}
	data, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	var out struct {
		MessageID string `json:"message_id"`
	}
	if err := c.call(ctx, op, path, "application/json; charset=utf-8", data, &out); err != nil {
		return "", err
	}
	if out.MessageID == "" {
		return "", upstream(op, "the answer has no message_id")
	}
	return out.MessageID, nil
}

func (c *Client) uploadImage(ctx context.Context, m alice.Outgoing) (string, error) {
	ct, body, err := multipartOf(map[string]string{"image_type": "message"}, "image", m.FileName, m.Data)
	if err != nil {
		return "", err
	}
	var out struct {
		ImageKey string `json:"image_key"`
	}
	if err := c.call(ctx, "upload image", "/open-apis/im/v1/images", ct, body, &out); err != nil {
		return "", err
	}
	if out.ImageKey == "" {
		return "", upstream("upload image", "the answer has no image_key")
	}
	return out.ImageKey, nil
}

func (c *Client) uploadFile(ctx context.Context, m alice.Outgoing) (string, error) {
	ct, body, err := multipartOf(map[string]string{"file_type": FileType(m.FileName), "file_name": m.FileName}, "file", m.FileName, m.Data)
	if err != nil {
		return "", err
	}
	var out struct {
		FileKey string `json:"file_key"`
	}
	if err := c.call(ctx, "upload file", "/open-apis/im/v1/files", ct, body, &out); err != nil {
		return "", err
	}
	if out.FileKey == "" {
		return "", upstream("upload file", "the answer has no file_key")
	}
	return out.FileKey, nil
}

// FileType is the platform's file_type for a file name: opus, mp4, pdf,
// doc, xls, ppt, else stream.
func FileType(name string) string {
	switch strings.ToLower(strings.TrimPrefix(filepath.Ext(name), ".")) {
	case "opus":
		return "opus"
	case "mp4":
		return "mp4"
	case "pdf":
		return "pdf"
	case "doc", "docx":
		return "doc"
	case "xls", "xlsx":
		return "xls"
	case "ppt", "pptx":
		return "ppt"
	}
	return "stream"
}

func multipartOf(fields map[string]string, fileField, fileName string, data []byte) (string, []byte, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			return "", nil, err
		}
	}
	w, err := mw.CreateFormFile(fileField, fileName)
	if err != nil {
		return "", nil, err
	}
	w.Write(data)
	if err := mw.Close(); err != nil {
		return "", nil, err
	}
	return mw.FormDataContentType(), b.Bytes(), nil
}

// envelope is every Open Platform answer.
type envelope struct {
	Code int             `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

// Codes meaning the tenant access token is missing, invalid or expired.
func tokenRejected(code int) bool {
	switch code {
	case 99991661, 99991663, 99991668, 99991677:
		return true
	}
	return false
}

// call makes an authenticated request. It retries transport errors and 5xx
// answers with backoff, up to Retries times; it refreshes the token once
// when the platform rejects it; it never retries a business error.
func (c *Client) call(ctx context.Context, op, path, contentType string, body []byte, out any) error {
	for refreshed := false; ; refreshed = true {
		token, err := c.tenantToken(ctx)
		if err != nil {
			return err
		}
		var status int
		var data []byte
		if err := c.retrying(ctx, op, func() (int, error) {
			status, data, err = c.roundTrip(ctx, path, contentType, body, token)
			return status, err
		}); err != nil {
			return err
		}
		var env envelope
		if json.Unmarshal(data, &env) != nil {
			return upstream(op, fmt.Sprintf("HTTP %d with a body that is not JSON", status))
		}
		if tokenRejected(env.Code) && !refreshed {
			c.forgetToken(token)
			continue
		}
		if env.Code != 0 {
			return upstreamCode(op, env.Code, env.Msg)
		}
		if status < 200 || status > 299 {
			return upstream(op, fmt.Sprintf("HTTP %d", status))
		}
		if out != nil && len(env.Data) > 0 {
			if err := json.Unmarshal(env.Data, out); err != nil {
				return upstream(op, "malformed data in the answer")
			}
		}
		return nil
	}
}

// retrying runs try until it gets an answer below 500, retrying transport
// errors and 5xx answers with exponential backoff, up to Retries times.
func (c *Client) retrying(ctx context.Context, op string, try func() (status int, err error)) error {
	for attempt := 0; ; attempt++ {
		status, err := try()
		if err == nil && status < 500 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("HTTP %d", status)
		}
		if attempt >= c.cfg.Retries || ctx.Err() != nil {
			return upstream(op, fmt.Sprintf("failed after %d attempts: %v", attempt+1, err))
		}
		c.cfg.Logger.Warn("feishu request failed; retrying", "op", op, "attempt", attempt+1, "err", err)
		if err := sleep(ctx, c.cfg.Backoff<<attempt); err != nil {
			return upstream(op, err.Error())
		}
	}
}

// roundTrip makes one POST (with the bearer token unless it is "") and
// returns the status and at most 1 MB of the answer.
func (c *Client) roundTrip(ctx context.Context, path, contentType string, body []byte, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, err
}

// tenantToken returns the cached token, fetching a new one when there is
// none or it expires within five minutes.
func (c *Client) tenantToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock.Now()
	if c.token != "" && now.Before(c.expires) {
		return c.token, nil
	}
	const op = "get tenant access token"
	secret := c.cfg.AppSecret
	if c.cfg.AppSecretEnv != "" {
		secret, _ = c.cfg.LookupEnv(c.cfg.AppSecretEnv)
		if secret == "" {
			return "", &alice.Error{Code: alice.EUpstream, Message: fmt.Sprintf("feishu %s: the app secret variable %s is empty or unset in the runtime's environment", op, c.cfg.AppSecretEnv)}
		}
	}
	body, _ := json.Marshal(map[string]string{"app_id": c.cfg.AppID, "app_secret": secret})
	var status int
	var data []byte
	err := c.retrying(ctx, op, func() (int, error) {
		var err error
		status, data, err = c.roundTrip(ctx, "/open-apis/auth/v3/tenant_access_token/internal", "application/json; charset=utf-8", body, "")
		return status, err
	})
	if err != nil {
		return "", err
	}
	var answer struct {
		Code   int    `json:"code"`
		Msg    string `json:"msg"`
		Token  string `json:"tenant_access_token"`
		Expire int    `json:"expire"`
	}
	if json.Unmarshal(data, &answer) != nil {
		return "", upstream(op, fmt.Sprintf("HTTP %d with a body that is not JSON", status))
	}
	if answer.Code != 0 || answer.Token == "" {
		return "", upstreamCode(op, answer.Code, answer.Msg)
	}
	life := time.Duration(answer.Expire)*time.Second - 5*time.Minute
	c.token, c.expires = answer.Token, now.Add(max(life, time.Minute))
	return c.token, nil
}

// Check asks the platform for a tenant token: it proves the app id and
// secret (alice doctor uses it).
func (c *Client) Check(ctx context.Context) error {
	_, err := c.tenantToken(ctx)
	return err
}

// forgetToken drops token if it is still the cached one.
func (c *Client) forgetToken(token string) {
	c.mu.Lock()
	if c.token == token {
		c.token = ""
	}
	c.mu.Unlock()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func upstream(op, msg string) error {
	return &alice.Error{Code: alice.EUpstream, Message: "feishu " + op + ": " + msg}
}

func upstreamCode(op string, code int, msg string) error {
	return &alice.Error{Code: alice.EUpstream, Message: fmt.Sprintf("feishu %s: code %d: %s", op, code, msg)}
}
