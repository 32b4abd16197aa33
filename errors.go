package alice

import (
	"errors"
	"fmt"
)

// Code is the kind of an application error. The HTTP layer maps each code to
// a status in one place; everything else only chooses the code.
type Code string

const (
	EInvalid     Code = "invalid"     // the request is malformed or breaks a rule
	ENotFound    Code = "not_found"   // the thing asked for does not exist
	EConflict    Code = "conflict"    // the request does not fit the current state
	EForbidden   Code = "forbidden"   // a permission switch is off
	EUnavailable Code = "unavailable" // temporarily unable: shutting down, store closed, busy
	EUpstream    Code = "upstream"    // the chat platform refused or failed a request
	EInternal    Code = "internal"    // a bug or an unexpected failure; details are logged, not shown
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
