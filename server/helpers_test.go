package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/config"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// instance is a real server on a free loopback port with a temp data dir.
type instance struct {
	t      testing.TB
	srv    *Server
	base   string // http://127.0.0.1:port of the first bot
	token  string
	served chan error
}

// start serves cfgYAML (its data_dir and addresses filled in when absent).
func start(t testing.TB, dataDir, cfgYAML string, opts Options) *instance {
	t.Helper()
	if cfgYAML == "" {
		cfgYAML = "bots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n"
	}
	cfg, err := config.Parse([]byte("data_dir: "+dataDir+"\n"+cfgYAML), "")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	srv, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, srv: srv, base: "http://" + srv.Bots()[0].Addr, token: srv.Bots()[0].Token, served: make(chan error, 1)}
	go func() { in.served <- srv.Serve() }()
	t.Cleanup(in.stop)
	return in
}

// stop shuts the server down and waits for Serve to return.
func (in *instance) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.srv.Shutdown(ctx); err != nil {
		in.t.Errorf("shutdown: %v", err)
	}
	if err := <-in.served; err != nil {
		in.t.Errorf("serve: %v", err)
	}
	in.served <- nil // a second stop (t.Cleanup after an explicit one) returns at once
}

// call is one request; conv "" sends no conversation headers.
type call struct {
	method, path, body string
	conv               string // a chat id
	token              *string
	header             map[string]string
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("body %q is not JSON: %v", a.body, err)
	}
}

// errorText returns the "error" field of a JSON error body, failing the
// test if the body is not one.
func (a answer) errorText(t testing.TB) string {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q, want application/json (body %q)", ct, a.body)
	}
	var e struct {
		Error string `json:"error"`
	}
	a.json(t, &e)
	if e.Error == "" {
		t.Fatalf("error body %q has no error text", a.body)
	}
	return e.Error
}

func (in *instance) do(c call) answer {
	in.t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, in.base+c.path, body)
	if err != nil {
		in.t.Fatal(err)
	}
	tok := in.token
	if c.token != nil {
		tok = *c.token
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if c.conv != "" {
		req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
		req.Header.Set("X-Alice-Receive-Id", c.conv)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	return in.send(req)
}

func (in *instance) send(req *http.Request) answer {
	in.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatal(err)
	}
	checkAgainstOpenAPI(in.t, req, resp.StatusCode, resp.Header, b)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// goal decodes a goal answer, failing unless the status is want.
func (in *instance) goal(c call, want int) alice.Goal {
	in.t.Helper()
	a := in.do(c)
	if a.status != want {
		in.t.Fatalf("%s %s: status %d, want %d (body %s)", c.method, c.path, a.status, want, a.body)
	}
	var g alice.Goal
	a.json(in.t, &g)
	return g
}

func ptr[T any](v T) *T { return &v }

func describe(c call) string { return fmt.Sprintf("%s %s %q", c.method, c.path, c.body) }

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
