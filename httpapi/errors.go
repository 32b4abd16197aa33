package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/alice-runtime/alice"
)

// statusOf is the one place where application error kinds become HTTP
// status codes.
func statusOf(code alice.Code) int {
	switch code {
	case alice.EInvalid:
		return http.StatusBadRequest
	case alice.ENotFound:
		return http.StatusNotFound
	case alice.EConflict:
		return http.StatusConflict
	case alice.EForbidden:
		return http.StatusForbidden
	case alice.EUnavailable:
		return http.StatusServiceUnavailable
	case alice.EUpstream:
		return http.StatusBadGateway
	default:
		return http.StatusInternalServerError
	}
}

// fail answers with the status of err's kind. Internal errors are logged
// with their details and shown to the caller only as "internal error".
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		a.writeError(w, r, http.StatusRequestEntityTooLarge, "request body exceeds 1 MB")
		return
	}
	status := statusOf(alice.ErrorCode(err))
	if status == http.StatusInternalServerError {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	a.writeError(w, r, status, alice.ErrorMessage(err))
}

// writeError writes the contract's error body, {"error": "..."}.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, r, status, struct {
		Error string `json:"error"`
	}{msg})
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
	body := buf.Bytes()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
