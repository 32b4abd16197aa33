package httpapi

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/wire"
)

// maxRequestIDBytes bounds an X-Request-Id a client sends; a longer or
// odd one is replaced by a generated id.
const maxRequestIDBytes = 128

// requestState is what the observe middleware learns about a request from
// below it: the route that matched and the answer written.
type requestState struct {
	route string
	id    string
}

type requestStateKey struct{}

// unmatched is the route of a request no route matched.
const unmatched = "unmatched"

// observe gives every request an id (the client's X-Request-Id when it is
// sensible, else a new one), echoes it, carries it in the context to the
// services, and logs one line per request at info level (/healthz at
// debug) with what it was and how it ended; Observe hears of it too.
func (a *api) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &requestState{id: requestID(r.Header.Get(wire.HeaderRequestID))}
		w.Header().Set(wire.HeaderRequestID, st.id)
		ctx := context.WithValue(alice.WithRequestID(r.Context(), st.id), requestStateKey{}, st)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		took := time.Since(start)
		if st.route == "" {
			st.route = unmatched
		}
		level := slog.LevelInfo
		if st.route == "/healthz" {
			level = slog.LevelDebug
		}
		// Attrs, not key-value pairs: those box each number on every
		// request, logged or not.
		a.log.LogAttrs(ctx, level, "request", slog.String("method", r.Method), slog.String("route", st.route),
			slog.Int("status", rec.status), slog.Float64("duration_ms", float64(took.Microseconds())/1000),
			slog.Int64("bytes", rec.bytes), slog.String("request_id", st.id))
		if a.cfg.Observe != nil {
			a.cfg.Observe(r.Method, st.route, rec.status, took)
		}
	})
}

// route names the route pattern a handler serves, for the request's log
// line and metrics: never the path itself, which holds ids.
func route(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st, ok := r.Context().Value(requestStateKey{}).(*requestState); ok {
			st.route = pattern
		}
		h.ServeHTTP(w, r)
	})
}

// requestLogger is the API's logger with the request's id.
func (a *api) requestLogger(r *http.Request) *slog.Logger {
	return a.log.With("request_id", alice.RequestID(r.Context()))
}

// requestID is the client's X-Request-Id when it is one a log line can
// carry as it is, and a new random one otherwise.
func requestID(sent string) string {
	if sent != "" && len(sent) <= maxRequestIDBytes && printable(sent) {
		return sent
	}
	return rand.Text()
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// recorder keeps the status and size of the answer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
