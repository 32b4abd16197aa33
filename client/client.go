// Package client is a Go client of the Alice Runtime HTTP API, for skills
// written in Go and for the alice command line. FromEnv configures it the
// way skills are configured: from the ALICE_* environment variables.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alice-runtime/alice"
)

// Client calls one bot's API on behalf of one conversation.
type Client struct {
	BaseURL      string // e.g. http://127.0.0.1:7331
	Token        string
	Conversation alice.Conversation // sent as the X-Alice-* headers
	HTTP         *http.Client       // default: 30 s timeout
}

// FromEnv reads ALICE_RUNTIME_API_BASE_URL (default http://127.0.0.1:7331),
// ALICE_RUNTIME_API_TOKEN and the conversation variables
// ALICE_RECEIVE_ID_TYPE, ALICE_RECEIVE_ID, ALICE_CHAT_TYPE,
// ALICE_SOURCE_MESSAGE_ID, ALICE_ACTOR_USER_ID, ALICE_ACTOR_OPEN_ID and
// ALICE_SESSION_KEY.
func FromEnv(getenv func(string) string) *Client {
	base := getenv("ALICE_RUNTIME_API_BASE_URL")
	if base == "" {
		base = "http://127.0.0.1:7331"
	}
	return &Client{
		BaseURL: strings.TrimRight(base, "/"),
		Token:   getenv("ALICE_RUNTIME_API_TOKEN"),
		Conversation: alice.Conversation{
			ReceiveIDType:   alice.ReceiveIDType(getenv("ALICE_RECEIVE_ID_TYPE")),
			ReceiveID:       getenv("ALICE_RECEIVE_ID"),
			ChatType:        getenv("ALICE_CHAT_TYPE"),
			SourceMessageID: getenv("ALICE_SOURCE_MESSAGE_ID"),
			ActorUserID:     getenv("ALICE_ACTOR_USER_ID"),
			ActorOpenID:     getenv("ALICE_ACTOR_OPEN_ID"),
			SessionKey:      getenv("ALICE_SESSION_KEY"),
		},
	}
}

// Error is an answer outside 2xx, with the API's error text.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Response is a successful answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends one request and returns the answer, or an *Error for non-2xx.
func (c *Client) Do(ctx context.Context, method, path, contentType string, body io.Reader) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	conv := c.Conversation
	for name, value := range map[string]string{
		"X-Alice-Receive-Id-Type":   string(conv.ReceiveIDType),
		"X-Alice-Receive-Id":        conv.ReceiveID,
		"X-Alice-Chat-Type":         conv.ChatType,
		"X-Alice-Source-Message-Id": conv.SourceMessageID,
		"X-Alice-Actor-User-Id":     conv.ActorUserID,
		"X-Alice-Actor-Open-Id":     conv.ActorOpenID,
		"X-Alice-Session-Key":       conv.SessionKey,
	} {
		if value != "" {
			req.Header.Set(name, value)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return nil, &Error{Status: resp.StatusCode, Message: e.Error}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// JSON sends v (nil for no body) as JSON.
func (c *Client) JSON(ctx context.Context, method, path string, v any) (*Response, error) {
	if v == nil {
		return c.Do(ctx, method, path, "", nil)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return c.Do(ctx, method, path, "application/json", bytes.NewReader(data))
}

// Goal runs a goal command ("", "pause", "resume", "complete" with POST;
// GET and DELETE on the goal itself). A 204 gives a nil goal.
func (c *Client) Goal(ctx context.Context, method, action string, body any) (*alice.Goal, error) {
	path := "/api/v1/goal"
	if action != "" {
		path += "/" + action
	}
	resp, err := c.JSON(ctx, method, path, body)
	if err != nil || resp.Status == http.StatusNoContent {
		return nil, err
	}
	var g alice.Goal
	return &g, json.Unmarshal(resp.Body, &g)
}

// SendFile posts a file (kind "image" or "file") with its optional caption
// and, for files, display name.
func (c *Client) SendFile(ctx context.Context, kind, path, caption, displayName string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, err := mw.CreateFormFile(kind, filepath.Base(path))
	if err != nil {
		return "", err
	}
	w.Write(data)
	if caption != "" {
		mw.WriteField("caption", caption)
	}
	if displayName != "" {
		mw.WriteField("filename", displayName)
	}
	mw.Close()
	resp, err := c.Do(ctx, http.MethodPost, "/api/v1/messages/"+url.PathEscape(kind), mw.FormDataContentType(), &b)
	if err != nil {
		return "", err
	}
	var out struct {
		MessageID string `json:"message_id"`
	}
	return out.MessageID, json.Unmarshal(resp.Body, &out)
}
