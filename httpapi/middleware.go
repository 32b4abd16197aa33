package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/alice-runtime/alice"
)

// failedAuthPerMinute is how many failed authentications one client address
// may make per minute before it is refused without a token check.
const failedAuthPerMinute = 120

// protect wraps an API handler in the contract's checks, in this order:
// failed-auth throttling per client address, bearer authentication, the
// per-conversation rate limit, the body limit and a request deadline.
func (a *api) protect(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(a.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := clientAddr(r)
		if ok, wait := a.failures.peek(client); !ok {
			a.tooMany(w, r, wait, "too many failed authentication attempts from this address")
			return
		}
		if !authorized(r.Header.Get("Authorization"), want) {
			a.failures.allow(client)
			w.Header().Set("WWW-Authenticate", `Bearer realm="alice"`)
			a.writeError(w, r, http.StatusUnauthorized, "missing or invalid bearer token (send Authorization: Bearer <token>; `alice token` prints it)")
			return
		}

		conv := conversationFromHeaders(r.Header)
		bucket := "" // requests without a valid conversation share the bot-wide bucket
		if conv.err == nil {
			bucket = conv.value.Scope().String()
		}
		if ok, wait := a.limits.allow(bucket); !ok {
			a.tooMany(w, r, wait, "rate limit exceeded for this conversation")
			return
		}

		if r.ContentLength > MaxBodyBytes {
			a.writeError(w, r, http.StatusRequestEntityTooLarge, "request body exceeds 1 MB")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)

		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, conversationKey{}, conv)))
	})
}

// authorized compares the bearer token in constant time. Both sides are
// hashed first so that the comparison does not leak the token's length.
func authorized(header string, want [sha256.Size]byte) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func (a *api) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration, msg string) {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	a.writeError(w, r, http.StatusTooManyRequests, fmt.Sprintf("%s; retry after %d s", msg, secs))
}

// recoverPanics turns a panic anywhere below into a JSON 500 that shows no
// internals; the panic itself is logged.
func (a *api) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // the server's own signal to drop the connection
			}
			a.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p)
			a.writeError(w, r, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// conversationKey is the context key of the request's parsed conversation.
type conversationKey struct{}

// parsedConversation is the conversation headers of a request, parsed once
// by the middleware; err says why they do not name a valid conversation.
type parsedConversation struct {
	value alice.Conversation
	err   error
}

func conversationFromHeaders(h http.Header) parsedConversation {
	c := alice.Conversation{
		ReceiveIDType:   alice.ReceiveIDType(h.Get("X-Alice-Receive-Id-Type")),
		ReceiveID:       h.Get("X-Alice-Receive-Id"),
		ChatType:        h.Get("X-Alice-Chat-Type"),
		SourceMessageID: h.Get("X-Alice-Source-Message-Id"),
		ActorUserID:     h.Get("X-Alice-Actor-User-Id"),
		ActorOpenID:     h.Get("X-Alice-Actor-Open-Id"),
		SessionKey:      h.Get("X-Alice-Session-Key"),
	}
	return parsedConversation{value: c, err: c.Validate()}
}

// conversation returns the request's conversation key, or an invalid error
// naming the headers, for endpoints that act on the current conversation.
func (a *api) conversation(r *http.Request) (alice.Conversation, alice.ConversationKey, error) {
	pc, _ := r.Context().Value(conversationKey{}).(parsedConversation)
	if pc.err != nil {
		return alice.Conversation{}, alice.ConversationKey{}, pc.err
	}
	return pc.value, alice.ConversationKey{Bot: a.cfg.BotID, Scope: pc.value.Scope()}, nil
}
