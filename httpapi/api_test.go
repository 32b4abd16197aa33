package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alice-runtime/alice"
)

// routerFunc adapts a function to actors.Router, to drive the HTTP layer
// into paths a real conversation never takes (a panic, an internal error).
type routerFunc func(ctx context.Context, key alice.ConversationKey, cmd any) (any, error)

func (f routerFunc) Request(ctx context.Context, key alice.ConversationKey, cmd any) (any, error) {
	return f(ctx, key, cmd)
}

func serve(t *testing.T, router routerFunc, logs io.Writer) *httptest.ResponseRecorder {
	t.Helper()
	h := New(Config{
		BotID: "main", Token: "test-token-0123456789", Router: router,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	req := httptest.NewRequest("GET", "/api/v1/goal", nil)
	req.Header.Set("Authorization", "Bearer test-token-0123456789")
	req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
	req.Header.Set("X-Alice-Receive-Id", "oc_1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestInternalFailuresShowNoInternals(t *testing.T) {
	tests := []struct {
		name   string
		router routerFunc
		secret string // must be logged, never shown
	}{
		{"panic", func(context.Context, alice.ConversationKey, any) (any, error) {
			panic("secret detail /var/lib/alice")
		}, "secret detail /var/lib/alice"},
		{"plain error", func(context.Context, alice.ConversationKey, any) (any, error) {
			return nil, io.ErrUnexpectedEOF
		}, io.ErrUnexpectedEOF.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			rec := serve(t, tt.router, &logs)
			if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q; want a JSON 500", rec.Code, rec.Header().Get("Content-Type"))
			}
			var body struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != "internal error" {
				t.Fatalf("body %q, want {\"error\": \"internal error\"}", rec.Body)
			}
			if !strings.Contains(logs.String(), tt.secret) {
				t.Fatalf("the failure was not logged: %q", logs.String())
			}
		})
	}
}

func TestStatusOfEveryCode(t *testing.T) {
	for code, want := range map[alice.Code]int{
		alice.EInvalid: 400, alice.ENotFound: 404, alice.EConflict: 409, alice.EForbidden: 403,
		alice.EUnavailable: 503, alice.EUpstream: 502, alice.EInternal: 500, "": 500,
	} {
		if got := statusOf(code); got != want {
			t.Errorf("statusOf(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestUnavailableCarriesRetryAfter(t *testing.T) {
	rec := serve(t, func(context.Context, alice.ConversationKey, any) (any, error) {
		return nil, alice.Errorf(alice.EUnavailable, "the runtime is shutting down")
	}, io.Discard)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "shutting down") {
		t.Fatalf("status %d Retry-After %q body %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}
