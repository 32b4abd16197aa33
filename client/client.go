// Package client is the Go client of the Alice Runtime HTTP API. A Client
// implements the services of package alice (GoalService, TaskService,
// MessageService) over HTTP, so code written against those interfaces runs
// against an in-process runtime or a remote one unchanged. Errors come back
// as *alice.Error with the kind the server answered.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/wire"
)

// DefaultBaseURL is where the first bot of a default runtime listens.
const DefaultBaseURL = "http://127.0.0.1:7331"

// maxAnswerBytes bounds what is read of an answer; message contents are
// at most 1 MB.
const maxAnswerBytes = 8 << 20

// Client calls one bot's API.
type Client struct {
	base  string // scheme://host of the requests, without a trailing slash
	token string
	http  *http.Client
}

var _ alice.Services = (*Client)(nil)

// New returns a client of the API at baseURL: http://host:port, or
// unix:///path/to.sock for a bot that listens on a unix socket. httpClient
// may be nil for one with a 30 s timeout.
func New(baseURL, token string, httpClient *http.Client) (*Client, error) {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("base URL %q: %w", baseURL, err)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	c := &Client{token: token, http: httpClient}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("base URL %q has no host", baseURL)
		}
		c.base = strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/")
	case "unix":
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		if path == "" {
			return nil, fmt.Errorf("base URL %q names no socket (want unix:///path/to.sock)", baseURL)
		}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		hc := *httpClient
		hc.Transport = transport
		c.http, c.base = &hc, "http://localhost"
	default:
		return nil, fmt.Errorf("base URL %q: the scheme must be http, https or unix", baseURL)
	}
	return c, nil
}

// request is one call: its conversation (zero: none), idempotency key and
// body.
type request struct {
	method, path string
	conv         alice.Conversation
	key          string
	contentType  string
	body         []byte
}

// answer is a successful response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends r and returns the answer, or the server's error as an
// *alice.Error of the kind its status means.
func (c *Client) do(ctx context.Context, r request) (*answer, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set(wire.HeaderAuthorization, "Bearer "+c.token)
	}
	wire.SetConversation(req.Header, r.conv)
	if r.key != "" {
		req.Header.Set(wire.HeaderIdempotencyKey, r.key)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e wire.Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(data)))
		}
		return nil, &alice.Error{Code: wire.Code(resp.StatusCode), Message: e.Error}
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// call sends in as JSON (nil: no body) and decodes the answer into out (nil:
// ignored; a 204 leaves it untouched).
func (c *Client) call(ctx context.Context, r request, in, out any) (*answer, error) {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		r.body, r.contentType = b, "application/json"
	}
	a, err := c.do(ctx, r)
	if err != nil || out == nil || a.status == http.StatusNoContent {
		return a, err
	}
	if err := json.Unmarshal(a.body, out); err != nil {
		return nil, fmt.Errorf("%s %s: the answer is not the JSON expected: %w", r.method, r.path, err)
	}
	return a, nil
}

// Raw sends a request with a body as is and returns the answer's status
// and body; errors are as for the other methods. The command line uses it
// to print the server's JSON unchanged.
func (c *Client) Raw(ctx context.Context, method, path string, conv alice.Conversation, contentType string, body []byte) (int, []byte, error) {
	a, err := c.do(ctx, request{method: method, path: path, conv: conv, contentType: contentType, body: body})
	if err != nil {
		return 0, nil, err
	}
	return a.status, a.body, nil
}

func (c *Client) goal(ctx context.Context, conv alice.Conversation, method, path string, in any) (*alice.Goal, error) {
	var g alice.Goal
	a, err := c.call(ctx, request{method: method, path: path, conv: conv}, in, &g)
	if err != nil || a.status == http.StatusNoContent {
		return nil, err
	}
	return &g, nil
}

// GetGoal implements alice.GoalService.
func (c *Client) GetGoal(ctx context.Context, conv alice.Conversation) (*alice.Goal, error) {
	return c.goal(ctx, conv, http.MethodGet, "/api/v1/goal", nil)
}

// CreateGoal implements alice.GoalService.
func (c *Client) CreateGoal(ctx context.Context, conv alice.Conversation, req alice.GoalCreate) (*alice.Goal, error) {
	body := map[string]string{"description": req.Description}
	if req.DeadlineIn != 0 {
		body["deadline_in"] = req.DeadlineIn.String()
	}
	var g alice.Goal
	if _, err := c.call(ctx, request{method: http.MethodPost, path: "/api/v1/goal", conv: conv, key: req.IdempotencyKey}, body, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// DelayGoal implements alice.GoalService.
func (c *Client) DelayGoal(ctx context.Context, conv alice.Conversation, req alice.GoalDelay) (*alice.Goal, error) {
	return c.goal(ctx, conv, http.MethodPost, "/api/v1/goal/delay", map[string]string{"duration": req.Duration.String(), "reason": req.Reason})
}

// PauseGoal implements alice.GoalService.
func (c *Client) PauseGoal(ctx context.Context, conv alice.Conversation) (*alice.Goal, error) {
	return c.goal(ctx, conv, http.MethodPost, "/api/v1/goal/pause", nil)
}

// ResumeGoal implements alice.GoalService.
func (c *Client) ResumeGoal(ctx context.Context, conv alice.Conversation) (*alice.Goal, error) {
	return c.goal(ctx, conv, http.MethodPost, "/api/v1/goal/resume", nil)
}

// CompleteGoal implements alice.GoalService.
func (c *Client) CompleteGoal(ctx context.Context, conv alice.Conversation) (*alice.Goal, error) {
	return c.goal(ctx, conv, http.MethodPost, "/api/v1/goal/complete", nil)
}

// DeleteGoal implements alice.GoalService.
func (c *Client) DeleteGoal(ctx context.Context, conv alice.Conversation) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: "/api/v1/goal", conv: conv}, nil, nil)
	return err
}

const tasksPath = "/api/v1/automation/tasks"

func taskPath(id string) string { return tasksPath + "/" + url.PathEscape(id) }

// CreateTask implements alice.TaskService.
func (c *Client) CreateTask(ctx context.Context, req alice.TaskCreate) (*alice.Task, error) {
	var t alice.Task
	r := request{method: http.MethodPost, path: tasksPath, key: req.IdempotencyKey}
	if req.Origin != nil {
		r.conv = *req.Origin
	}
	if _, err := c.call(ctx, r, req.Input, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// GetTask implements alice.TaskService.
func (c *Client) GetTask(ctx context.Context, id string) (*alice.Task, error) {
	var t alice.Task
	if _, err := c.call(ctx, request{method: http.MethodGet, path: taskPath(id)}, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListTasks implements alice.TaskService.
func (c *Client) ListTasks(ctx context.Context, f alice.TaskFilter, p alice.Page) ([]alice.Task, int, error) {
	q := pageQuery(p)
	for k, v := range map[string]string{"status": string(f.Status), "scope_type": string(f.ScopeType), "scope_id": f.ScopeID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var tasks []alice.Task
	total, err := c.list(ctx, request{method: http.MethodGet, path: tasksPath + "?" + q.Encode()}, &tasks)
	return tasks, total, err
}

// PatchTask implements alice.TaskService with a JSON merge patch.
func (c *Client) PatchTask(ctx context.Context, id string, patch alice.TaskInput) (*alice.Task, error) {
	b, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	a, err := c.do(ctx, request{method: http.MethodPatch, path: taskPath(id), contentType: "application/merge-patch+json", body: b})
	if err != nil {
		return nil, err
	}
	var t alice.Task
	if err := json.Unmarshal(a.body, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// DeleteTask implements alice.TaskService.
func (c *Client) DeleteTask(ctx context.Context, id string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: taskPath(id)}, nil, nil)
	return err
}

// TaskRuns implements alice.TaskService.
func (c *Client) TaskRuns(ctx context.Context, id string, p alice.Page) ([]alice.Run, int, error) {
	var runs []alice.Run
	total, err := c.list(ctx, request{method: http.MethodGet, path: taskPath(id) + "/runs?" + pageQuery(p).Encode()}, &runs)
	return runs, total, err
}

// SendMessage implements alice.MessageService with a multipart upload (or
// a platform key).
func (c *Client) SendMessage(ctx context.Context, conv alice.Conversation, req alice.MessageSend) (string, error) {
	m := req.Message
	if m.Kind != alice.KindImage && m.Kind != alice.KindFile {
		return "", alice.Errorf(alice.EInvalid, "the API sends images and files; send text through a task")
	}
	if m.ReplyTo != "" {
		conv.SourceMessageID = m.ReplyTo
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	part := string(m.Kind)
	if m.Key != "" {
		mw.WriteField(part+"_key", m.Key)
	} else {
		w, err := mw.CreateFormFile(part, m.FileName)
		if err != nil {
			return "", err
		}
		w.Write(m.Data)
	}
	if m.Caption != "" {
		mw.WriteField("caption", m.Caption)
	}
	if m.Kind == alice.KindFile && m.FileName != "" {
		mw.WriteField("filename", m.FileName)
	}
	if err := mw.Close(); err != nil {
		return "", err
	}
	a, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/messages/" + part, conv: conv, key: req.IdempotencyKey,
		contentType: mw.FormDataContentType(), body: b.Bytes()})
	if err != nil {
		return "", err
	}
	var out struct {
		MessageID string `json:"message_id"`
	}
	return out.MessageID, json.Unmarshal(a.body, &out)
}

// ListMessages implements alice.MessageService.
func (c *Client) ListMessages(ctx context.Context, conv alice.Conversation, p alice.Page) ([]alice.Message, int, error) {
	var items []alice.Message
	total, err := c.list(ctx, request{method: http.MethodGet, path: "/api/v1/messages?" + pageQuery(p).Encode(), conv: conv}, &items)
	return items, total, err
}

// MessageContent implements alice.MessageService. The answer carries the
// bytes and, in its headers, the kind and file name; the other fields of
// the message are in ListMessages.
func (c *Client) MessageContent(ctx context.Context, conv alice.Conversation, id string) (*alice.Message, []byte, error) {
	a, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/messages/" + url.PathEscape(id) + "/content", conv: conv})
	if err != nil {
		return nil, nil, err
	}
	m := &alice.Message{ID: id, Kind: alice.KindText, Size: len(a.body)}
	if disp, params, err := mime.ParseMediaType(a.header.Get("Content-Disposition")); err == nil {
		m.FileName = params["filename"]
		m.Kind = alice.KindFile
		if disp == "inline" {
			m.Kind = alice.KindImage
		}
	}
	if m.Kind == alice.KindText {
		m.Text, m.Size = string(a.body), 0
	}
	return m, a.body, nil
}

func pageQuery(p alice.Page) url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset != 0 {
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	return q
}

// list decodes a JSON array answer into out and returns its X-Total-Count.
func (c *Client) list(ctx context.Context, r request, out any) (int, error) {
	a, err := c.call(ctx, r, nil, out)
	if err != nil {
		return 0, err
	}
	total, err := strconv.Atoi(a.header.Get(wire.HeaderTotalCount))
	if err != nil {
		return 0, errors.New("the answer has no X-Total-Count")
	}
	return total, nil
}
