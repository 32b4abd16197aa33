// Package wire is the HTTP wire format of the Alice Runtime API, shared by
// the server (httpapi) and the Go client (client): the header names, the
// error body, and the one table between HTTP status codes and the error
// kinds of package alice.
package wire

import (
	"net/http"
	"strings"

	"github.com/alice-runtime/alice"
)

// Header names.
const (
	HeaderAuthorization  = "Authorization"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTotalCount     = "X-Total-Count"
	HeaderRequestID      = "X-Request-Id"
	HeaderRetryAfter     = "Retry-After"
)

// conversationHeaders are the headers that say which conversation a request
// comes from, with the environment variable a skill finds each in; the
// names are the ones Alice's skills already send.
var conversationHeaders = []struct {
	Header, Env string
	field       func(*alice.Conversation) *string
}{
	{"X-Alice-Receive-Id-Type", "ALICE_RECEIVE_ID_TYPE", func(c *alice.Conversation) *string { return (*string)(&c.ReceiveIDType) }},
	{"X-Alice-Receive-Id", "ALICE_RECEIVE_ID", func(c *alice.Conversation) *string { return &c.ReceiveID }},
	{"X-Alice-Chat-Type", "ALICE_CHAT_TYPE", func(c *alice.Conversation) *string { return &c.ChatType }},
	{"X-Alice-Source-Message-Id", "ALICE_SOURCE_MESSAGE_ID", func(c *alice.Conversation) *string { return &c.SourceMessageID }},
	{"X-Alice-Actor-User-Id", "ALICE_ACTOR_USER_ID", func(c *alice.Conversation) *string { return &c.ActorUserID }},
	{"X-Alice-Actor-Open-Id", "ALICE_ACTOR_OPEN_ID", func(c *alice.Conversation) *string { return &c.ActorOpenID }},
	{"X-Alice-Session-Key", "ALICE_SESSION_KEY", func(c *alice.Conversation) *string { return &c.SessionKey }},
}

// SetConversation writes c into h as the X-Alice-* headers; empty fields
// are left out.
func SetConversation(h http.Header, c alice.Conversation) {
	for _, f := range conversationHeaders {
		if v := *f.field(&c); v != "" {
			h.Set(f.Header, v)
		}
	}
}

// ConversationFrom reads the X-Alice-* headers of a request.
func ConversationFrom(h http.Header) alice.Conversation {
	var c alice.Conversation
	for _, f := range conversationHeaders {
		*f.field(&c) = h.Get(f.Header)
	}
	return c
}

// ConversationFromEnv reads the conversation from the ALICE_* environment
// variables a skill runs with.
func ConversationFromEnv(getenv func(string) string) alice.Conversation {
	var c alice.Conversation
	for _, f := range conversationHeaders {
		*f.field(&c) = getenv(f.Env)
	}
	return c
}

// ConversationEnv lists the conversation as ALICE_* variables (NAME=value),
// for a process that should act on it; empty fields are left out.
func ConversationEnv(c alice.Conversation) []string {
	var env []string
	for _, f := range conversationHeaders {
		if v := *f.field(&c); v != "" {
			env = append(env, f.Env+"="+v)
		}
	}
	return env
}

// Environment variables the command line reads, besides the conversation's.
const (
	EnvBaseURL = "ALICE_RUNTIME_API_BASE_URL"
	EnvToken   = "ALICE_RUNTIME_API_TOKEN"
	EnvBin     = "ALICE_RUNTIME_BIN"
)

// HeadersAsEnv rewrites the conversation header names in text (an error
// message, say) to the environment variables that fill them, for a reader
// who set variables rather than headers.
func HeadersAsEnv(text string) string {
	var pairs []string
	for _, f := range conversationHeaders {
		pairs = append(pairs, "header "+f.Header, f.Env, f.Header, f.Env)
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
}

// statuses is the one table between error kinds and HTTP status codes.
var statuses = []struct {
	code   alice.Code
	status int
}{
	{alice.EInvalid, http.StatusBadRequest},
	{alice.EUnauthorized, http.StatusUnauthorized},
	{alice.EForbidden, http.StatusForbidden},
	{alice.ENotFound, http.StatusNotFound},
	{alice.EConflict, http.StatusConflict},
	{alice.ETooLarge, http.StatusRequestEntityTooLarge},
	{alice.EUnsupported, http.StatusUnsupportedMediaType},
	{alice.EMisdirected, http.StatusMisdirectedRequest},
	{alice.EKeyReused, http.StatusUnprocessableEntity},
	{alice.ERateLimited, http.StatusTooManyRequests},
	{alice.EInternal, http.StatusInternalServerError},
	{alice.EUpstream, http.StatusBadGateway},
	{alice.EUnavailable, http.StatusServiceUnavailable},
	{alice.EStorageFull, http.StatusInsufficientStorage},
}

// Status is the HTTP status of an error kind; 500 for kinds it does not
// know.
func Status(code alice.Code) int {
	for _, s := range statuses {
		if s.code == code {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// Code is the error kind of an HTTP status: the kind Status maps to it, or
// for statuses no kind maps to, EInvalid for other 4xx and EInternal for
// the rest.
func Code(status int) alice.Code {
	for _, s := range statuses {
		if s.status == status {
			return s.code
		}
	}
	if status >= 400 && status < 500 {
		return alice.EInvalid
	}
	return alice.EInternal
}
