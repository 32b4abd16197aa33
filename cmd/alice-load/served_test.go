package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice/metrics"
)

// TestCountServed reads a page the runtime's own metrics wrote: the counts
// must be those of the requested kinds only, split at the bound.
func TestCountServed(t *testing.T) {
	m := metrics.New([]string{"load"}, nil)
	for _, took := range []time.Duration{time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond} {
		m.Request("POST", "/api/v1/automation/tasks", 201, took)
	}
	m.Request("POST", "/api/v1/automation/tasks", 400, time.Millisecond) // another status
	m.Request("GET", "/api/v1/automation/tasks", 200, time.Millisecond)  // another method
	m.Request("POST", "/api/v1/goal", 201, 40*time.Millisecond)
	m.Request("POST", "/api/v1/goal/complete", 200, 2*time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	page, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}

	creates := []answerKind{{"POST", "/api/v1/automation/tasks", "201"}}
	cycles := []answerKind{{"POST", "/api/v1/goal", "201"}, {"POST", "/api/v1/goal/complete", "200"}}
	tests := []struct {
		name    string
		kinds   []answerKind
		bound   float64
		want    served
		wantErr string
	}{
		{"one kind", creates, 0.025, served{within: 2, all: 3}, ""},
		{"two kinds summed", cycles, 0.025, served{within: 1, all: 2}, ""},
		{"a tighter bound", creates, 0.005, served{within: 1, all: 3}, ""},
		{"a kind never answered", []answerKind{{"DELETE", "/api/v1/goal", "204"}}, 0.025, served{}, ""},
		{"no bucket at the bound", creates, 0.02, served{}, "no bucket at 0.02 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := countServed(page, tt.kinds, tt.bound)
			checkCounted(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestServedShare(t *testing.T) {
	tests := []struct {
		s    served
		want string
	}{
		{served{within: 9963, all: 10000}, "99.63%"},
		{served{within: 5, all: 5}, "100.00%"},
		{served{}, "-"},
	}
	for _, tt := range tests {
		if got := tt.s.share(); got != tt.want {
			t.Errorf("%+v: share %q, want %q", tt.s, got, tt.want)
		}
	}
	if got := (served{within: 7, all: 9}).minus(served{within: 2, all: 3}); got != (served{within: 5, all: 6}) {
		t.Errorf("minus: %+v", got)
	}
	if got := (served{within: 7, all: 9}).plus(served{within: 2, all: 3}); got != (served{within: 9, all: 12}) {
		t.Errorf("plus: %+v", got)
	}
}

// TestAnswered reads the counts over HTTP, as the writes scenario does: a
// server without metrics counts nothing, and a refused read is an error.
func TestAnswered(t *testing.T) {
	m := metrics.New([]string{"load"}, nil)
	m.Request("POST", "/api/v1/automation/tasks", 201, time.Millisecond)
	creates := []answerKind{{"POST", "/api/v1/automation/tasks", "201"}}
	tests := []struct {
		name    string
		handler http.Handler
		want    served
		wantErr string
	}{
		{"metrics served", m.Handler(), served{within: 1, all: 1}, ""},
		{"no metrics", http.NotFoundHandler(), served{}, ""},
		{"refused", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"error":"invalid token"}`, http.StatusUnauthorized)
		}), served{}, "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			got, err := (&target{url: srv.URL, token: loadToken}).answered(creates, servedBound)
			checkCounted(t, got, err, tt.want, tt.wantErr)
		})
	}
}

// checkCounted fails t unless err says wantErr, or, with wantErr empty,
// there is no error and got is want.
func checkCounted(t *testing.T, got served, err error, want served, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one saying %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("counted %+v, want %+v", got, want)
	}
}
