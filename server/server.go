// Package server wires a validated configuration into a running runtime: the
// badger store, the actor runtime and one HTTP listener per bot. cmd/alice is
// a thin command line around it; programs that embed Alice can use it, or
// wire the same parts themselves (see examples/embed).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/api"
	"github.com/alice-runtime/alice/automation"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/httpapi"
	"github.com/alice-runtime/alice/internal/procgroup"
	"github.com/alice-runtime/alice/llm"
	"github.com/alice-runtime/alice/messenger/feishu"
	"github.com/alice-runtime/alice/metrics"
	"github.com/alice-runtime/alice/persistence/badgerstore"
	"github.com/alice-runtime/alice/wire"
)

// Options are the knobs that are not part of the configuration file.
type Options struct {
	Logger *slog.Logger // default: slog.Default()
	Clock  alice.Clock  // default: the system clock
	// Actors overrides actor runtime settings (shards, caps, idle timeout,
	// workers); its Store, Clock, IDs, Logger, Bots, Executor and Hooks are
	// filled in by New.
	Actors actors.Config
	// FreeSpace overrides how the data dir's free space is read (tests).
	FreeSpace badgerstore.FreeSpace
	// MaxConnsPerBot bounds a bot's open connections; default 1,024. At
	// the bound, a new connection replaces the longest idle one, or is
	// closed when none is idle.
	MaxConnsPerBot int
	// Executable is the alice binary agents are told to call the runtime
	// back with (ALICE_RUNTIME_BIN); "" tells them none.
	Executable string
	// OnCommit, when set, also hears of every store commit: how many
	// writers it answered and how long it took. It runs on the store's
	// committer goroutine and must not block.
	OnCommit func(writers int, took time.Duration)
}

// Server is a running runtime. Create it with New, run it with Serve, end it
// with Shutdown.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	metrics  *metrics.Metrics
	store    *badgerstore.Store
	runtime  *actors.Runtime
	bots     []*bot
	stopping atomic.Bool
	serveErr chan error
	shutdown sync.Once
	err      error
}

type bot struct {
	BotInfo
	listeners []net.Listener // TCP, unix socket, or both
	limit     *connLimit
	http      *http.Server
}

// BotInfo tells where a bot listens and with which token.
type BotInfo struct {
	ID     string
	Addr   string // the bound TCP address (a configured port 0 is resolved); "" for none
	Socket string // the unix socket's path; "" for none
	Token  string
}

// URL is the base URL a client reaches the bot at: its TCP address if it
// has one, else its socket.
func (b BotInfo) URL() string {
	if b.Addr != "" {
		return "http://" + b.Addr
	}
	return "unix://" + b.Socket
}

// New opens the store, starts the actor runtime and binds every bot's
// listener, so that a port in use or a locked data directory fails here,
// before anything is served.
func New(cfg *config.Config, opts Options) (_ *Server, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = alice.SystemClock{}
	}
	if opts.MaxConnsPerBot <= 0 {
		opts.MaxConnsPerBot = 1024
	}
	s := &Server{cfg: cfg, log: opts.Logger, serveErr: make(chan error, 2*len(cfg.Bots))}
	listeners := make([]botListeners, len(cfg.Bots))
	defer func() {
		if err != nil {
			for _, l := range listeners {
				l.close()
			}
			s.closeAll()
		}
	}()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	tokens := make([]string, len(cfg.Bots))
	for i, b := range cfg.Bots {
		if tokens[i], err = cfg.Token(b); err != nil {
			return nil, fmt.Errorf("bot %s: %w", b.ID, err)
		}
	}
	botIDs := make([]string, len(cfg.Bots))
	for i, b := range cfg.Bots {
		botIDs[i] = b.ID
	}
	s.metrics = metrics.New(botIDs, func(ctx context.Context, bot string) (int64, int64, int64, error) {
		t, err := s.store.Totals(ctx, bot)
		return t.Conversations, t.Messages, t.Tasks, err
	})
	if s.store, err = badgerstore.Open(cfg.StoreDir(), badgerstore.Options{
		Logger: opts.Logger, MinFreeDisk: cfg.MinFreeDisk, FreeSpace: opts.FreeSpace, OnCommit: s.onCommit(opts.OnCommit),
	}); err != nil {
		return nil, err
	}
	// Only now, holding the data dir's lock, may groups that a killed
	// runtime's agents left running be stopped: they are this data dir's.
	groups, err := procgroup.Open(filepath.Join(cfg.DataDir, agentGroupsFile), opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("agents' process groups: %w", err)
	}
	// The listeners are bound first: an agent is told the bound address.
	for i, b := range cfg.Bots {
		if listeners[i], err = listen(b); err != nil {
			return nil, fmt.Errorf("bot %s: %w", b.ID, err)
		}
	}

	ac := opts.Actors
	ac.Store, ac.Clock, ac.IDs, ac.Logger = s.store, opts.Clock, alice.NewIDs(opts.Clock), opts.Logger
	ac.Hooks = actors.Hooks{Activated: s.metrics.Activated, Passivated: s.metrics.Passivated,
		Started: s.metrics.Started, Recorded: s.metrics.Recorded, Attempted: s.metrics.Attempted}
	ac.Bots = map[string]actors.BotConfig{}
	agents := map[string]automation.Bot{}
	for i, b := range cfg.Bots {
		ac.Bots[b.ID] = botConfig(b, opts)
		agents[b.ID] = agentsOf(b, listeners[i].url(), tokens[i], opts.Executable, groups)
	}
	ac.Executor = automation.New(automation.Config{Bots: agents, Clock: opts.Clock})
	if s.runtime, err = actors.New(ac); err != nil {
		return nil, err
	}

	openAPI, err := api.JSON()
	if err != nil {
		return nil, err
	}
	for i, b := range cfg.Bots {
		l := listeners[i]
		services := s.runtime.Bot(b.ID)
		hosts := b.Hosts
		if l.tcp != nil {
			if host, _, err := net.SplitHostPort(l.tcp.Addr().String()); err == nil {
				hosts = append(hosts, host) // a remote bot answers to its own address
			}
		}
		handler := httpapi.New(httpapi.Config{
			Token:              tokens[i],
			RateLimitPerMinute: b.RateLimitPerMinute,
			Permissions:        httpapi.Permissions{Message: b.Permissions.RuntimeMessage, Automation: b.Permissions.RuntimeAutomation},
			Hosts:              hosts,
			Goals:              services,
			Tasks:              services,
			Messages:           services,
			Clock:              opts.Clock,
			Logger:             opts.Logger.With("bot", b.ID),
			Health:             s.health,
			Observe:            s.metrics.Request,
			Metrics:            s.metrics.Handler(),
			OpenAPI:            openAPI,
		})
		info := BotInfo{ID: b.ID, Socket: b.Socket, Token: tokens[i]}
		limit := newConnLimit(opts.MaxConnsPerBot)
		var lns []net.Listener
		for _, ln := range []net.Listener{l.tcp, l.unix} {
			if ln != nil {
				lns = append(lns, limit.listener(ln))
			}
		}
		if l.tcp != nil {
			info.Addr = l.tcp.Addr().String()
		}
		s.bots = append(s.bots, &bot{
			BotInfo:   info,
			listeners: lns,
			limit:     limit,
			http: &http.Server{
				Handler: handler,
				// A client has 5 s to send its headers and a minute for its
				// body; a kept-alive connection may idle 30 s.
				ReadHeaderTimeout: 5 * time.Second,
				ReadTimeout:       60 * time.Second,
				WriteTimeout:      60 * time.Second,
				IdleTimeout:       30 * time.Second,
				ConnState:         limit.track,
				MaxHeaderBytes:    64 << 10,
				ErrorLog:          slog.NewLogLogger(opts.Logger.With("bot", b.ID).Handler(), slog.LevelWarn),
			},
		})
	}
	return s, nil
}

// botConfig is what a bot's conversations need to validate and run tasks.
func botConfig(b config.Bot, opts Options) actors.BotConfig {
	workflows := map[string]bool{}
	for name := range b.Workflows {
		workflows[name] = true
	}
	bc := actors.BotConfig{
		Rules: alice.TaskRules{
			Zone:        b.Location,
			HasLLM:      b.LLM != nil,
			LLMKey:      "bots." + b.ID + ".llm",
			Workflows:   workflows,
			WorkflowKey: "bots." + b.ID + ".workflows",
		},
		Goal:          alice.GoalRules{DefaultDeadline: b.Goal.DefaultDeadline, Loop: b.Goal.Loop},
		CatchUpWindow: b.CatchUpWindow,
		TaskRetention: b.TaskRetention,
		Outbox:        actors.OutboxLimits{MaxMessages: b.Outbox.MaxMessages, MaxAge: b.Outbox.MaxAge},

		MaxConsecutiveFailures: b.MaxConsecutiveFailures,
	}
	if b.MaxConsecutiveFailures == 0 {
		bc.MaxConsecutiveFailures = -1 // configured off
	}
	if b.LLM != nil {
		bc.Agents = b.LLM.MaxConcurrency
		// Every attempt, and a backoff of at most a minute between two.
		bc.JobTimeout = time.Duration(b.LLM.Retries+1)*b.LLM.Timeout + time.Duration(b.LLM.Retries)*time.Minute
		if len(b.Workflows) > 0 {
			// A workflow may ask the agent once per step.
			bc.JobTimeout *= time.Duration(maxSteps(b.Workflows))
		}
	}
	if b.Feishu != nil {
		bc.Messenger = feishu.New(feishu.Config{
			AppID: b.Feishu.AppID, AppSecret: b.Feishu.AppSecret, AppSecretEnv: b.Feishu.AppSecretEnv, BaseURL: b.Feishu.BaseURL,
			Clock: opts.Clock, Logger: opts.Logger.With("bot", b.ID, "component", "feishu"),
		})
	}
	return bc
}

// Bots lists the bots in id order with their bound addresses and tokens.
func (s *Server) Bots() []BotInfo {
	out := make([]BotInfo, len(s.bots))
	for i, b := range s.bots {
		out[i] = b.BotInfo
	}
	return out
}

// Serve serves every bot until Shutdown, then returns nil; it returns the
// first listener error otherwise.
func (s *Server) Serve() error {
	n := 0
	for _, b := range s.bots {
		for _, ln := range b.listeners {
			n++
			go func() {
				err := b.http.Serve(ln)
				if errors.Is(err, http.ErrServerClosed) {
					err = nil
				}
				s.serveErr <- err
			}()
		}
	}
	var first error
	for range n {
		if err := <-s.serveErr; err != nil && first == nil {
			first = err
			go s.Shutdown(context.Background())
		}
	}
	return first
}

// Shutdown stops in order: the HTTP listeners (finishing in-flight requests;
// at ctx's end, the connections still open are closed), then the actors
// (answering what they have queued), then the store. Every acknowledged
// write is already on disk, so a shutdown cut short loses nothing
// acknowledged; it reports why it was cut short. It is safe to call more
// than once; later calls return the first one's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Do(func() {
		s.stopping.Store(true)
		// The bound is shared out: in-flight requests get up to half of it,
		// the runtime what they leave of the next three tenths, the store's
		// close the rest. A phase that ends early leaves its time to the
		// next.
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(config.DefaultShutdown)
		}
		budget := time.Until(deadline)
		httpCtx, cancelHTTP := context.WithDeadline(ctx, deadline.Add(-budget/2))
		defer cancelHTTP()
		runtimeCtx, cancelRuntime := context.WithDeadline(ctx, deadline.Add(-budget/5))
		defer cancelRuntime()
		storeCtx, cancelStore := context.WithDeadline(ctx, deadline)
		defer cancelStore()

		var wg sync.WaitGroup
		for _, b := range s.bots {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if b.http.Shutdown(httpCtx) != nil {
					b.http.Close() // slow clients are cut off at the bound
				}
			}()
		}
		wg.Wait()
		if err := s.runtime.Shutdown(runtimeCtx); err != nil {
			s.log.Warn("the runtime did not stop cleanly", "err", err)
		}
		if err := s.store.CloseContext(storeCtx); err != nil {
			s.err = fmt.Errorf("close store: %w", err)
		}
	})
	return s.err
}

// closeAll releases what New acquired when New fails half-way.
func (s *Server) closeAll() {
	if s.runtime != nil {
		s.runtime.Shutdown(context.Background())
	}
	if s.store != nil {
		s.store.Close()
	}
}

// health is what /healthz reports: unavailable while shutting down,
// degraded while the data dir is too full to write.
func (s *Server) health() error {
	if s.stopping.Load() {
		return alice.Errorf(alice.EUnavailable, "shutting down")
	}
	return s.store.Health()
}

func maxSteps(workflows map[string]config.Workflow) int {
	n := 1
	for _, w := range workflows {
		n = max(n, len(w.Steps))
	}
	return n
}

// agentGroupsFile, in the data dir, lists the process groups of the agents
// running now (internal/procgroup).
const agentGroupsFile = "agents.pgids"

// agentsOf is what the bot's LLM tasks and workflows run with: its agent,
// each call bounded by llm.timeout, and what the agent is told about the
// runtime so it can call back.
func agentsOf(b config.Bot, baseURL, token, executable string, groups llm.GroupRecorder) automation.Bot {
	a := automation.Bot{Workflows: b.Workflows, GoalPrompt: b.Goal.Prompt,
		Env: []string{wire.EnvBaseURL + "=" + baseURL, wire.EnvToken + "=" + token}}
	if executable != "" {
		a.Env = append(a.Env, wire.EnvBin+"="+executable)
	}
	switch {
	case b.LLM == nil:
		return a
	case len(b.LLM.Command) > 0:
		a.LLM = llm.Command{Argv: b.LLM.Command, Dir: b.LLM.Workdir, Env: b.LLM.Env, Inherit: b.LLM.InheritEnv, Groups: groups}
	default:
		o := b.LLM.OpenAI
		a.LLM = llm.NewOpenAI(llm.OpenAIConfig{BaseURL: o.BaseURL, APIKeyEnv: o.APIKeyEnv, Model: o.Model,
			Organization: o.Organization, Project: o.Project})
	}
	a.LLM = llm.WithTimeout(a.LLM, b.LLM.Timeout)
	a.Retries = b.LLM.Retries
	return a
}

// onCommit is the store's commit hook: the metrics, then extra if set.
func (s *Server) onCommit(extra func(int, time.Duration)) func(int, time.Duration) {
	if extra == nil {
		return s.metrics.Committed
	}
	return func(writers int, took time.Duration) {
		s.metrics.Committed(writers, took)
		extra(writers, took)
	}
}
