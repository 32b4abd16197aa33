package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/wire"
)

// fail answers with the status of err's kind, through the one table in
// package wire. Internal errors are logged with their details and shown to
// the caller only as "internal error".
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		err = errTooLarge
	}
	status := wire.Status(alice.ErrorCode(err))
	if status == http.StatusInternalServerError {
		a.requestLogger(r).Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, r, status, alice.ErrorMessage(err))
}

// writeError writes the contract's error body, {"error": "..."}. A 503 says
// when to retry.
func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusServiceUnavailable && w.Header().Get(wire.HeaderRetryAfter) == "" {
		w.Header().Set(wire.HeaderRetryAfter, "1")
	}
	writeJSON(w, r, status, wire.Error{Error: msg})
}

// writeJSON writes v as the response body. HEAD requests get the headers
// only.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // bodies are read by scripts, not embedded in HTML
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error"}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}
