package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestConnsPost sends each case's request through one worker's connection
// to a real server on loopback, and checks what post reports and whether
// the connection was kept for the next request.
func TestConnsPost(t *testing.T) {
	var dials atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ok", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Alice-Receive-Id") != "oc_1" ||
			r.Header.Get("X-Alice-Receive-Id-Type") != "chat_id" || string(body) != `{"a":1}` {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, strings.Repeat("x", 10000)) // more than one read
	})
	mux.HandleFunc("POST /refused", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such goal"+strings.Repeat(".", 8000), http.StatusNotFound)
	})
	mux.HandleFunc("POST /closing", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	cs, err := newConns(srv.URL, "tok", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.close()
	for _, tc := range []struct {
		name      string
		path      string
		want      int
		wantErr   string // "" for none
		wantDials int64  // connections the server has seen after the request
	}{
		{"first request dials", "/ok", http.StatusCreated, "", 1},
		{"the connection is kept", "/ok", http.StatusCreated, "", 1},
		{"an unexpected status names it and the answer", "/refused", http.StatusOK, "POST /refused: status 404, want 200: no such goal", 1},
		{"a long error answer is read to its end, so the connection is kept", "/ok", http.StatusCreated, "", 1},
		{"a status the caller does not expect is an error", "/ok", http.StatusOK, "status 201, want 200", 1},
		{"the server closes the connection", "/closing", http.StatusOK, "", 1},
		{"the next request dials again", "/ok", http.StatusCreated, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cs.post(0, tc.path, "oc_1", []byte(`{"a":1}`), tc.want)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("post: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("post: %v, want an error containing %q", err, tc.wantErr)
			}
			if got := dials.Load(); got != tc.wantDials {
				t.Fatalf("the server has seen %d connections, want %d", got, tc.wantDials)
			}
		})
	}
}

func TestNewConnsRefusesHTTPS(t *testing.T) {
	if _, err := newConns("https://127.0.0.1:1", "tok", 1); err == nil {
		t.Fatal("newConns accepted an https URL")
	}
}
