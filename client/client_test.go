package client_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/client"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/internal/contracttest"
	"github.com/alice-runtime/alice/server"
)

// serve starts a real server on a free loopback port with a temp data dir
// and returns its base URL and token.
func serve(t *testing.T) (string, string) {
	t.Helper()
	cfg, err := config.Parse([]byte("data_dir: "+t.TempDir()+"\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    rate_limit_per_minute: 0\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	b := srv.Bots()[0]
	return "http://" + b.Addr, b.Token
}

// TestContract runs the services' contract suite against the client and a
// real server; actors runs the same suite in-process.
func TestContract(t *testing.T) {
	contracttest.Run(t, func(t *testing.T) alice.Services {
		base, token := serve(t)
		c, err := client.New(base, token, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

func TestErrorsCarryTheServersKind(t *testing.T) {
	base, _ := serve(t)
	c, err := client.New(base, "wrong-token-0123456789", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetGoal(context.Background(), alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_1"})
	if alice.ErrorCode(err) != alice.EUnauthorized {
		t.Fatalf("wrong token: %v (%s), want unauthorized", err, alice.ErrorCode(err))
	}
}

func TestBaseURLs(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{{"", true}, {"http://127.0.0.1:7331/", true}, {"unix:///run/alice.sock", true}, {"unix://", false}, {"ftp://x", false}, {"http://", false}} {
		if _, err := client.New(tt.url, "t", nil); (err == nil) != tt.ok {
			t.Errorf("New(%q): %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}
