package alice

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Code is the kind of an application error. The wire package maps each code
// to an HTTP status and back in one table; everything else only chooses the
// code.
type Code string

const (
	EInvalid      Code = "invalid"      // the request is malformed or breaks a rule
	ENotFound     Code = "not_found"    // the thing asked for does not exist
	EConflict     Code = "conflict"     // the request does not fit the current state
	EForbidden    Code = "forbidden"    // a permission switch is off
	EKeyReused    Code = "key_reused"   // an idempotency key was reused for a different request
	EStorageFull  Code = "storage_full" // the data dir's file system is too full to write safely
	EUnavailable  Code = "unavailable"  // temporarily unable: shutting down, store closed, busy
	EUpstream     Code = "upstream"     // the chat platform refused or failed a request
	EInternal     Code = "internal"     // a bug or an unexpected failure; details are logged, not shown
	EUnauthorized Code = "unauthorized" // missing or wrong credentials
	ERateLimited  Code = "rate_limited" // too many requests; retry later
	ETooLarge     Code = "too_large"    // the request body is over the limit
	EUnsupported  Code = "unsupported"  // a content encoding or media type the API does not take
	EMisdirected  Code = "misdirected"  // the request names a host this server does not serve
)

// Error is an application error whose Message is written for the person
// calling the API, in words a skill author understands.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error of the given code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-facing text of err. Errors that are not
// *Error may carry internals (paths, driver text), so they are summarised.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// maxQuoteBytes bounds how much of a caller's input an error message quotes,
// so a huge field cannot make a huge error body.
const maxQuoteBytes = 100

// Quote returns s quoted for an error message, cut to about 100 bytes (on a
// rune boundary) with "..." marking the cut.
func Quote(s string) string {
	if len(s) <= maxQuoteBytes {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", s[:runeCut(s, maxQuoteBytes)])
}

// Truncate cuts s to at most n bytes on a rune boundary, marking a cut with
// "...".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:runeCut(s, max(n-3, 0))] + "..."
}

// runeCut is the largest rune boundary of s at or before n (< len(s)).
func runeCut(s string, n int) int {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
