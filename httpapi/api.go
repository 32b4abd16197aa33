// Package httpapi is the HTTP face of one bot: it authenticates, rate-limits
// and validates each request, turns it into a command for the conversation's
// actor through actors.Router, and maps the answer to the contract's JSON
// and status codes.
package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/messenger"
	"github.com/alice-runtime/alice/messenger/outbox"
	"github.com/alice-runtime/alice/persistence"
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
	BotID              string
	Token              string // required
	RateLimitPerMinute int    // per conversation; 0 disables
	Permissions        Permissions
	Router             actors.Router         // required
	Tasks              persistence.TaskIndex // required for the task endpoints
	Messenger          messenger.Messenger   // required for the message endpoints
	Outbox             *outbox.Outbox        // the local outbox, nil when messages go elsewhere

	Clock          alice.Clock   // default: the system clock
	Logger         *slog.Logger  // default: slog.Default()
	Health         func() error  // nil: always healthy
	RequestTimeout time.Duration // per request; default 15s
	MaxLimiterKeys int           // rate-limiter buckets kept; default 100,000
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

	r := httprouter.New()
	r.HandleOPTIONS = false
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.NotFound = a.protect(http.HandlerFunc(a.notFound))
	r.MethodNotAllowed = a.protect(http.HandlerFunc(a.methodNotAllowed))

	r.HandlerFunc(http.MethodGet, "/healthz", a.health)
	r.HandlerFunc(http.MethodHead, "/healthz", a.health)

	r.Handler(http.MethodGet, "/api/v1/goal", a.protect(http.HandlerFunc(a.getGoal)))
	r.Handler(http.MethodPost, "/api/v1/goal", a.protect(http.HandlerFunc(a.createGoal)))
	r.Handler(http.MethodDelete, "/api/v1/goal", a.protect(http.HandlerFunc(a.deleteGoal)))
	r.Handler(http.MethodPost, "/api/v1/goal/pause", a.protect(a.goalTransition(alice.GoalPause)))
	r.Handler(http.MethodPost, "/api/v1/goal/resume", a.protect(a.goalTransition(alice.GoalResume)))
	r.Handler(http.MethodPost, "/api/v1/goal/complete", a.protect(a.goalTransition(alice.GoalComplete)))

	r.Handler(http.MethodPost, "/api/v1/messages/image", a.protect(http.HandlerFunc(a.sendImage)))
	r.Handler(http.MethodPost, "/api/v1/messages/file", a.protect(http.HandlerFunc(a.sendFile)))
	r.Handler(http.MethodGet, "/api/v1/messages", a.protect(http.HandlerFunc(a.listMessages)))
	r.Handler(http.MethodGet, "/api/v1/messages/:messageID/content", a.protect(http.HandlerFunc(a.messageContent)))

	r.Handler(http.MethodGet, "/api/v1/automation/tasks", a.protect(http.HandlerFunc(a.listTasks)))
	r.Handler(http.MethodPost, "/api/v1/automation/tasks", a.protect(http.HandlerFunc(a.createTask)))
	r.Handler(http.MethodGet, "/api/v1/automation/tasks/:taskID", a.protect(http.HandlerFunc(a.getTask)))
	r.Handler(http.MethodPatch, "/api/v1/automation/tasks/:taskID", a.protect(http.HandlerFunc(a.patchTask)))
	r.Handler(http.MethodDelete, "/api/v1/automation/tasks/:taskID", a.protect(http.HandlerFunc(a.deleteTask)))
	r.Handler(http.MethodGet, "/api/v1/automation/tasks/:taskID/runs", a.protect(http.HandlerFunc(a.listRuns)))

	return a.recoverPanics(r)
}

func (a *api) health(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Health != nil {
		if err := a.cfg.Health(); err != nil {
			a.writeError(w, r, http.StatusServiceUnavailable, "not ready: "+alice.ErrorMessage(err))
			return
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) notFound(w http.ResponseWriter, r *http.Request) {
	a.writeError(w, r, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
}

// methodNotAllowed runs after httprouter has set the Allow header.
func (a *api) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	a.writeError(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+w.Header().Get("Allow"))
}
