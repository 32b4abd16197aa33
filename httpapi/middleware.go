package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/wire"
)

// middleware wraps a handler in one concern.
type middleware func(http.Handler) http.Handler

// chain wraps h so that a request passes the middlewares in the order given.
func chain(h http.Handler, mws ...middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
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
			a.requestLogger(r).Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p)
			writeError(w, r, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses requests addressed to a host this API does not serve.
// The API listens on loopback; a web page a browser opens could still make
// its own name resolve to 127.0.0.1 (DNS rebinding), and its requests would
// then carry that name as Host.
func (a *api) checkHost(next http.Handler) http.Handler {
	allowed := map[string]bool{"localhost": true}
	for _, h := range a.cfg.Hosts {
		allowed[strings.ToLower(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		ip := net.ParseIP(host)
		if !allowed[host] && (ip == nil || !ip.IsLoopback()) {
			a.fail(w, r, alice.Errorf(alice.EMisdirected, "host %s is not served here; use 127.0.0.1 or localhost", alice.Quote(r.Host)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkEncoding refuses compressed or otherwise encoded bodies: the body
// limit and the strict decoders read bytes as sent.
func (a *api) checkEncoding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, enc := range r.Header.Values("Content-Encoding") {
			if e := strings.TrimSpace(enc); e != "" && !strings.EqualFold(e, "identity") {
				a.fail(w, r, alice.Errorf(alice.EUnsupported, "Content-Encoding %s is not supported; send the body uncompressed", alice.Quote(e)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// failedAuthPerMinute is how many failed authentications one client address
// may make per minute before its failing attempts get 429 instead of 401.
const failedAuthPerMinute = 120

// authenticate checks the bearer token. A request with the valid token is
// always let through; only failing attempts are counted, per client
// address, and throttled. On loopback every caller shares one address, so
// counting valid requests would let one broken script lock out every skill.
func (a *api) authenticate(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(a.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.Header.Values(wire.HeaderAuthorization)
		if len(values) == 1 && authorized(values[0], want) {
			next.ServeHTTP(w, r)
			return
		}
		client := clientAddr(r)
		if ok, wait := a.failures.allow(client); !ok {
			a.tooMany(w, r, wait, "too many failed authentication attempts from this address")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="alice"`)
		msg := "missing or invalid bearer token (send Authorization: Bearer <token>; `alice token` prints it)"
		if len(values) > 1 {
			msg = "send exactly one Authorization header"
		}
		a.fail(w, r, &alice.Error{Code: alice.EUnauthorized, Message: msg})
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

// conversationKey is the context key of the request's parsed conversation.
type conversationKey struct{}

// parsedConversation is the conversation headers of a request, parsed once;
// err says why they do not name a valid conversation.
type parsedConversation struct {
	value alice.Conversation
	err   error
}

// readConversation parses the X-Alice-* headers once for the rest of the
// chain: the rate limit buckets by them, and handlers that act on the
// current conversation read them with conversation.
func (a *api) readConversation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := wire.ConversationFrom(r.Header)
		pc := parsedConversation{value: c, err: c.Validate()}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), conversationKey{}, pc)))
	})
}

// conversation returns the request's conversation, or an invalid error
// naming the headers, for endpoints that act on the current conversation.
func conversation(r *http.Request) (alice.Conversation, error) {
	pc, _ := r.Context().Value(conversationKey{}).(parsedConversation)
	return pc.value, pc.err
}

// rateLimit spends one token of the request's principal: the bot's token
// together with the conversation; requests without a valid conversation
// share one bot-wide bucket.
func (a *api) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket := ""
		if c, err := conversation(r); err == nil {
			bucket = c.Scope().String()
		}
		if ok, wait := a.limits.allow(bucket); !ok {
			a.tooMany(w, r, wait, "rate limit exceeded for this conversation")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses a body over 1 MB from its Content-Length, and stops one
// without a length (chunked) when it reaches the limit.
func (a *api) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			a.fail(w, r, errTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

var errTooLarge = &alice.Error{Code: alice.ETooLarge, Message: "request body exceeds 1 MB"}

// withDeadline bounds the time a request may wait for its conversation.
func (a *api) withDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *api) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration, msg string) {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	w.Header().Set(wire.HeaderRetryAfter, strconv.Itoa(secs))
	a.fail(w, r, alice.Errorf(alice.ERateLimited, "%s; retry after %d s", msg, secs))
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
