package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/client"
	"github.com/alice-runtime/alice/config"
)

// TestUnixSocket serves a bot on a socket alone: the socket is its
// owner's only, a client reaches it with a unix:// base URL, and the file
// goes when the server stops.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "alice.sock")
	cfg, err := config.Parse([]byte("data_dir: "+t.TempDir()+"\nbots: {main: {runtime_socket: "+sock+"}}"), "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	info := srv.Bots()[0]
	if info.Addr != "" || info.URL() != "unix://"+sock {
		t.Fatalf("bot = %+v; want the socket alone", info)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket file: %v, %v; want a socket with mode 0600", fi.Mode(), err)
	}
	c, err := client.New(info.URL(), info.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	conv := alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_sock"}
	if _, err := c.CreateGoal(context.Background(), conv, alice.GoalCreate{Description: "over the socket"}); err != nil {
		t.Fatal(err)
	}
	if g, err := c.GetGoal(context.Background(), conv); err != nil || g.Description != "over the socket" {
		t.Fatalf("GetGoal = %+v, %v", g, err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("the socket file outlived the server: %v", err)
	}
}

// TestSocketBesideTCP: both listeners serve the same bot.
func TestSocketBesideTCP(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "alice.sock")
	in := start(t, t.TempDir(), "bots: {main: {runtime_http_addr: '127.0.0.1:0', runtime_socket: "+sock+"}}", Options{})
	in.goal(call{method: "POST", path: "/api/v1/goal", body: `{"description":"over TCP"}`, conv: "oc_both"}, 201)
	c, err := client.New("unix://"+sock, in.token, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := c.GetGoal(context.Background(), alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_both"}); err != nil || g.Description != "over TCP" {
		t.Fatalf("over the socket: %+v, %v", g, err)
	}
}

func TestSocketPathsAtStart(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := listenUnix(stale)
	if err != nil {
		t.Fatal(err)
	}
	// A crashed server leaves its socket file behind: closing the file
	// descriptor without unlinking is what a kill -9 does.
	l.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	l.Close()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o600)
	live := filepath.Join(dir, "live.sock")
	busy, err := listenUnix(live)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name, path, err string
	}{
		{"a stale socket is replaced", stale, ""},
		{"a file that is not a socket is kept", plain, "not a socket"},
		{"a live server's socket is kept", live, "another server is listening"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := listenUnix(tt.path)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				ln.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
	if data, _ := os.ReadFile(plain); string(data) != "x" {
		t.Fatal("the plain file was touched")
	}
}

// TestIdleConnectionsCannotStarveNewOnes: with every connection slot held
// by a kept-alive idle client, a new client is served at once, and the
// longest idle connection is the one closed for it. A connection still
// sending its headers counts as idle (a slow client cannot hold a slot
// that way); when every slot is busy with a request, a new client is
// turned away at once rather than left waiting.
func TestIdleConnectionsCannotStarveNewOnes(t *testing.T) {
	const slots = 4
	in := start(t, t.TempDir(), "", Options{MaxConnsPerBot: slots})
	addr := strings.TrimPrefix(in.base, "http://")
	var idle []net.Conn
	for range slots {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
			t.Fatalf("healthz: %q %v", line, err)
		}
		idle = append(idle, c)
	}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := fresh.Get(in.base + "/healthz")
	if err != nil {
		t.Fatalf("a new client with every slot held by idle ones: %v", err)
	}
	resp.Body.Close()
	// The first (longest idle) connection was closed to make room.
	idle[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err == nil {
		t.Fatal("the longest idle connection is still open")
	}

	// Slow: every slot holds a client still sending its headers.
	for _, c := range idle {
		c.Close()
	}
	for range slots {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	}
	if resp, err := fresh.Get(in.base + "/healthz"); err != nil {
		t.Fatalf("a new client with every slot held by slow ones: %v", err)
	} else {
		resp.Body.Close()
	}

	// Busy: every slot holds a request whose body is still to come. Each
	// is let become busy before the next arrives: until the server has read
	// its headers, a connection is as evictable as a slow one.
	limit := in.srv.bots[0].limit
	for i := range slots {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /api/v1/goal HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"+
			"X-Alice-Receive-Id-Type: chat_id\r\nX-Alice-Receive-Id: oc_%d\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", in.token, i)
		for deadline := time.Now().Add(5 * time.Second); limit.busy() < i+1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d connections busy", limit.busy(), i+1)
			}
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := c.Read(make([]byte, 64)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("with every slot busy the new connection got %d bytes, %v; want it closed at once", n, err)
	}
}
