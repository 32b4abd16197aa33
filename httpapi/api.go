// Package httpapi is the HTTP face of one bot: it authenticates, rate-limits
// and validates each request, calls the bot's services (package alice's
// GoalService, TaskService and MessageService), and maps the answer to the
// contract's JSON and status codes. It knows nothing of actors, stores or
// messengers: anything that implements the services can stand behind it.
package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/alice-runtime/alice"
)

// MaxBodyBytes is the contract's request body limit (1 MB).
const MaxBodyBytes = 1 << 20

// Permissions switch parts of the API on and off for a bot.
type Permissions struct {
	Message    bool // POST /api/v1/messages/*
	Automation bool // writes to /api/v1/automation/tasks
}

// Config configures the API of one bot.
type Config struct {
	Token              string // required
	RateLimitPerMinute int    // per conversation; 0 disables
	Permissions        Permissions
	// Hosts are the names the API answers to besides loopback ones
	// (localhost, 127.0.0.1, ::1); any other Host header is refused, which
	// keeps a browser page from reaching the API by DNS rebinding.
	Hosts []string

	Goals    alice.GoalService    // required
	Tasks    alice.TaskService    // required
	Messages alice.MessageService // required

	Clock          alice.Clock   // default: the system clock
	Logger         *slog.Logger  // default: slog.Default()
	Health         func() error  // nil: always healthy
	RequestTimeout time.Duration // per request; default 15s
	MaxLimiterKeys int           // rate-limiter buckets kept; default 100,000

	// Observe, when set, hears of every request answered: its method, its
	// route pattern ("unmatched" when none matched), status and duration.
	Observe func(method, route string, status int, took time.Duration)
	// Metrics, when set, is served at GET /metrics to callers with the
	// token.
	Metrics http.Handler
	// OpenAPI, when set, is the API's description, served at
	// GET /openapi.json to anyone.
	OpenAPI []byte
}

// api holds the handlers' shared state. Handlers live in one file per
// resource (goal_handlers.go, ...).
type api struct {
	cfg      Config
	log      *slog.Logger
	limits   *limiter // per conversation
	failures *limiter // failed authentications per client address
}

// New returns the bot's HTTP handler. Every route of the contract is
// registered here.
func New(cfg Config) http.Handler {
	if cfg.Clock == nil {
		cfg.Clock = alice.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.MaxLimiterKeys <= 0 {
		cfg.MaxLimiterKeys = 100_000
	}
	a := &api{
		cfg:      cfg,
		log:      cfg.Logger,
		limits:   newLimiter(cfg.RateLimitPerMinute, cfg.MaxLimiterKeys, cfg.Clock),
		failures: newLimiter(failedAuthPerMinute, cfg.MaxLimiterKeys, cfg.Clock),
	}
	// Every API route passes the same checks, in this order.
	protect := func(h http.HandlerFunc) http.Handler {
		return chain(h, a.authenticate, a.readConversation, a.rateLimit, a.limitBody, a.withDeadline)
	}

	r := httprouter.New()
	r.HandleOPTIONS = false
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.NotFound = protect(a.notFound)
	r.MethodNotAllowed = protect(a.methodNotAllowed)
	handle := func(method, pattern string, h http.Handler) { r.Handler(method, pattern, route(pattern, h)) }

	handle(http.MethodGet, "/healthz", http.HandlerFunc(a.health))
	handle(http.MethodHead, "/healthz", http.HandlerFunc(a.health))
	if cfg.OpenAPI != nil {
		handle(http.MethodGet, "/openapi.json", http.HandlerFunc(a.openAPI))
	}
	if cfg.Metrics != nil {
		handle(http.MethodGet, "/metrics", chain(cfg.Metrics, a.authenticate))
	}

	handle(http.MethodGet, "/api/v1/goal", protect(a.getGoal))
	handle(http.MethodPost, "/api/v1/goal", protect(a.createGoal))
	handle(http.MethodDelete, "/api/v1/goal", protect(a.deleteGoal))
	handle(http.MethodPost, "/api/v1/goal/pause", protect(a.goalTransition(a.cfg.Goals.PauseGoal)))
	handle(http.MethodPost, "/api/v1/goal/resume", protect(a.goalTransition(a.cfg.Goals.ResumeGoal)))
	handle(http.MethodPost, "/api/v1/goal/complete", protect(a.goalTransition(a.cfg.Goals.CompleteGoal)))
	handle(http.MethodPost, "/api/v1/goal/delay", protect(a.delayGoal))

	handle(http.MethodPost, "/api/v1/messages/image", protect(a.sendImage))
	handle(http.MethodPost, "/api/v1/messages/file", protect(a.sendFile))
	handle(http.MethodGet, "/api/v1/messages", protect(a.listMessages))
	handle(http.MethodGet, "/api/v1/messages/:messageID/content", protect(a.messageContent))

	handle(http.MethodGet, "/api/v1/automation/tasks", protect(a.listTasks))
	handle(http.MethodPost, "/api/v1/automation/tasks", protect(a.createTask))
	handle(http.MethodGet, "/api/v1/automation/tasks/:taskID", protect(a.getTask))
	handle(http.MethodPatch, "/api/v1/automation/tasks/:taskID", protect(a.patchTask))
	handle(http.MethodDelete, "/api/v1/automation/tasks/:taskID", protect(a.deleteTask))
	handle(http.MethodGet, "/api/v1/automation/tasks/:taskID/runs", protect(a.listRuns))

	return chain(r, a.observe, a.recoverPanics, a.checkHost, a.checkEncoding)
}

// openAPI serves the API's description.
func (a *api) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(a.cfg.OpenAPI)
}

func (a *api) health(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Health != nil {
		if err := a.cfg.Health(); err != nil {
			writeJSON(w, r, http.StatusServiceUnavailable, map[string]string{"status": "degraded", "reason": alice.ErrorMessage(err)})
			return
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) notFound(w http.ResponseWriter, r *http.Request) {
	a.fail(w, r, alice.Errorf(alice.ENotFound, "no such endpoint: %s %s", r.Method, alice.Quote(r.URL.Path)))
}

// methodNotAllowed runs after httprouter has set the Allow header, which
// lists OPTIONS although the API does not answer it (it sends no CORS
// headers): that is taken out.
func (a *api) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range strings.Split(w.Header().Get("Allow"), ",") {
		if m = strings.TrimSpace(m); m != "" && m != http.MethodOptions {
			allow = append(allow, m)
		}
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, r, http.StatusMethodNotAllowed, "method "+alice.Quote(r.Method)+" is not allowed on "+alice.Quote(r.URL.Path)+"; allowed: "+strings.Join(allow, ", "))
}
