package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alice-runtime/alice/internal/await"
)

// stopWithin sends SIGTERM and waits at most limit for the process to
// exit, returning its exit error.
func (p *process) stopWithin(t *testing.T, limit time.Duration) error {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		p.cmd.Process.Kill()
		t.Fatalf("alice did not exit within %s of SIGTERM", limit)
		return nil
	}
}

// TestSlowClientDoesNotHoldShutdown: a client trickling a request body
// when SIGTERM comes is cut off at shutdown_timeout; every acknowledged
// write is kept and the exit code is 0.
func TestSlowClientDoesNotHoldShutdown(t *testing.T) {
	cfg := writeConfig(t, "data_dir: data\nshutdown_timeout: 2s\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: durable-test-token-123\n")
	p := startAlice(t, cfg)
	if code, _ := p.request(t, "POST", "/api/v1/goal", `{"description":"acknowledged"}`, "oc_1"); code != 201 {
		t.Fatalf("create: %d", code)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/goal HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer durable-test-token-123\r\n"+
		"X-Alice-Receive-Id-Type: chat_id\r\nX-Alice-Receive-Id: oc_2\r\nContent-Type: application/json\r\n"+
		"Content-Length: 200000\r\nExpect: 100-continue\r\n\r\n")
	// The server says 100 Continue when the handler starts reading the
	// body: from then on the request is under way, and the body trickles.
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("server answered %q, %v; want 100 Continue", line, err)
	}
	conn.Write([]byte(`{"description":"slow`))

	if err := p.stopWithin(t, 8*time.Second); err != nil {
		t.Fatalf("alice exited with %v after SIGTERM, want 0", err)
	}
	p = startAlice(t, cfg)
	if code, g := p.request(t, "GET", "/api/v1/goal", "", "oc_1"); code != 200 || g["description"] != "acknowledged" {
		t.Fatalf("after the restart: %d %v", code, g)
	}
}

// TestShutdownWithAStoreThatCannotWrite: with the data dir deleted under a
// running server, SIGTERM still ends it within the bound, with a non-zero
// exit code and an error that says why.
func TestShutdownWithAStoreThatCannotWrite(t *testing.T) {
	cfg := writeConfig(t, "data_dir: data\nshutdown_timeout: 2s\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: durable-test-token-123\n")
	cmd := exec.Command(aliceBin, "serve", "--config", cfg)
	var stderr strings.Builder
	p := startAliceCmd(t, cmd, &stderr)
	for i := range 50 {
		if code, _ := p.request(t, "POST", "/api/v1/goal", `{"description":"x"}`, fmt.Sprintf("oc_%d", i)); code != 201 {
			t.Fatalf("create: %d", code)
		}
	}
	if err := os.RemoveAll(filepath.Join(filepath.Dir(cfg), "data")); err != nil {
		t.Fatal(err)
	}
	err := p.stopWithin(t, 8*time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("exit = %v, want a non-zero code", err)
	}
	if !strings.Contains(stderr.String(), "store") {
		t.Fatalf("stderr = %q; want it to say the store could not be closed", stderr.String())
	}
}

// TestSecondSignalExitsAtOnce: while a shutdown waits for an agent, a
// second SIGTERM ends the process at once, saying so, with exit code 1.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	started := filepath.Join(t.TempDir(), "started")
	cfg := writeConfig(t, "data_dir: data\nshutdown_timeout: 60s\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: durable-test-token-123\n"+
		"    llm:\n      command: [sh, -c, 'touch \"$STARTED\"; exec sleep 600']\n      env: {STARTED: "+started+"}\n      timeout: 10m\n")
	cmd := exec.Command(aliceBin, "serve", "--config", cfg)
	stderr := &syncBuffer{}
	p := startAliceCmd(t, cmd, stderr)
	if code, task := p.request(t, "POST", "/api/v1/automation/tasks", `{"scope_type":"chat","scope_id":"oc_1","action":"run_llm","prompt":"p"}`, "oc_1"); code != 201 {
		t.Fatalf("create: %d %v", code, task)
	}
	await.Until(t, 10*time.Second, "the agent to start", func() bool { _, err := os.Stat(started); return err == nil })
	p.cmd.Process.Signal(syscall.SIGTERM)
	await.Until(t, 10*time.Second, "the shutdown to begin", func() bool { return strings.Contains(stderr.String(), "a second signal exits at once") })
	err := p.stopWithin(t, 10*time.Second) // the second SIGTERM
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr.String(), "second signal") {
		t.Fatalf("exit %v; stderr %q", err, stderr.String())
	}
}

// syncBuffer is a strings.Builder safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}
