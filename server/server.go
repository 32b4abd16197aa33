// Package server wires a validated configuration into a running runtime: the
// badger store, the actor runtime and one HTTP listener per bot. Programs
// that embed Alice use it (or its parts) directly; cmd/alice is a thin
// command line around it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/automation"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/httpapi"
	"github.com/alice-runtime/alice/llm"
	"github.com/alice-runtime/alice/messenger"
	"github.com/alice-runtime/alice/messenger/feishu"
	"github.com/alice-runtime/alice/messenger/outbox"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

// Options are the knobs that are not part of the configuration file.
type Options struct {
	Logger *slog.Logger // default: slog.Default()
	Clock  alice.Clock  // default: the system clock
	// Actors overrides actor runtime settings (shards, caps, idle timeout,
	// workers); its Store, Clock, IDs, Logger, Policies and Executor are
	// filled in by New from the configuration.
	Actors actors.Config
	// MaxConnsPerBot bounds open connections per listener; default 1,024.
	// Connections beyond it wait in the kernel's accept queue.
	MaxConnsPerBot int
}

// Server is a running runtime. Create it with New, run it with Serve, end it
// with Shutdown.
type Server struct {
	cfg       *config.Config
	log       *slog.Logger
	store     *badgerstore.Store
	runtime   *actors.Runtime
	bots      []*bot
	outboxes  []*outbox.Outbox // by bot, in id order; nil for bots that send to Feishu
	stopping  atomic.Bool
	stopPrune chan struct{}
	pruned    sync.WaitGroup
	serveErr  chan error
	shutdown  sync.Once
}

type bot struct {
	BotInfo
	listener net.Listener
	http     *http.Server
}

// BotInfo tells where a bot listens and with which token.
type BotInfo struct {
	ID    string
	Addr  string // the bound address (a configured port 0 is resolved)
	Token string
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
	s := &Server{cfg: cfg, log: opts.Logger, serveErr: make(chan error, len(cfg.Bots)), stopPrune: make(chan struct{})}
	defer func() {
		if err != nil {
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
	if s.store, err = badgerstore.Open(cfg.StoreDir(), opts.Logger); err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("data dir %s is in use by another alice process", cfg.DataDir)
		}
		return nil, err
	}
	ids := alice.NewIDs(opts.Clock)
	ac := opts.Actors
	ac.Store, ac.Clock, ac.IDs, ac.Logger = s.store, opts.Clock, ids, opts.Logger
	ac.Policies = map[string]actors.BotPolicy{}
	bots := map[string]automation.Bot{}
	messengers := map[string]messenger.Messenger{}
	for _, b := range cfg.Bots {
		ac.Policies[b.ID] = policyOf(b)
		if b.Feishu != nil {
			s.outboxes = append(s.outboxes, nil)
			messengers[b.ID] = feishu.New(feishu.Config{
				AppID: b.Feishu.AppID, AppSecret: b.Feishu.AppSecret, BaseURL: b.Feishu.BaseURL,
				Clock: opts.Clock, Logger: opts.Logger.With("bot", b.ID, "component", "feishu"),
			})
		} else {
			box := outbox.New(b.ID, s.store, opts.Clock, ids, outbox.Retention{MaxMessages: b.Outbox.MaxMessages, MaxAge: b.Outbox.MaxAge})
			s.outboxes = append(s.outboxes, box)
			messengers[b.ID] = box
		}
		bots[b.ID] = automation.Bot{Messenger: messengers[b.ID], LLM: llmOf(b), Workflows: b.Workflows}
	}
	ac.Executor = automation.New(bots)
	if s.runtime, err = actors.New(ac); err != nil {
		return nil, err
	}

	for i, b := range cfg.Bots {
		ln, err := net.Listen("tcp", b.Addr)
		if err != nil {
			return nil, fmt.Errorf("bot %s: listen on %s: %w", b.ID, b.Addr, err)
		}
		handler := httpapi.New(httpapi.Config{
			BotID:              b.ID,
			Token:              tokens[i],
			RateLimitPerMinute: b.RateLimitPerMinute,
			Permissions:        httpapi.Permissions{Message: b.Permissions.RuntimeMessage, Automation: b.Permissions.RuntimeAutomation},
			Router:             s.runtime,
			Tasks:              s.store,
			Messenger:          messengers[b.ID],
			Outbox:             s.outboxes[i],
			Clock:              opts.Clock,
			Logger:             opts.Logger.With("bot", b.ID),
			Health:             s.health,
		})
		s.bots = append(s.bots, &bot{
			BotInfo:  BotInfo{ID: b.ID, Addr: ln.Addr().String(), Token: tokens[i]},
			listener: netutil.LimitListener(ln, opts.MaxConnsPerBot),
			http: &http.Server{
				Handler:           handler,
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       60 * time.Second,
				WriteTimeout:      60 * time.Second,
				IdleTimeout:       2 * time.Minute,
				MaxHeaderBytes:    64 << 10,
				ErrorLog:          slog.NewLogLogger(opts.Logger.With("bot", b.ID).Handler(), slog.LevelWarn),
			},
		})
	}
	s.pruned.Add(1)
	go s.pruneOutboxes()
	return s, nil
}

// pruneInterval is how often outboxes drop messages past their age limit.
const pruneInterval = 10 * time.Minute

func (s *Server) pruneOutboxes() {
	defer s.pruned.Done()
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		for _, box := range s.outboxes {
			if box == nil {
				continue
			}
			if _, err := box.Prune(context.Background()); err != nil {
				s.log.Warn("pruning the outbox failed", "err", err)
			}
		}
		select {
		case <-s.stopPrune:
			return
		case <-t.C:
		}
	}
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
	for _, b := range s.bots {
		go func(b *bot) {
			err := b.http.Serve(b.listener)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			s.serveErr <- err
		}(b)
	}
	var first error
	for range s.bots {
		if err := <-s.serveErr; err != nil && first == nil {
			first = err
			go s.Shutdown(context.Background())
		}
	}
	return first
}

// Shutdown stops in order: the HTTP listeners (finishing in-flight requests),
// then the actors (answering what they have queued), then the store. ctx
// bounds the wait for in-flight work; the store is closed in any case.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutdown.Do(func() {
		s.stopping.Store(true)
		var wg sync.WaitGroup
		errs := make([]error, len(s.bots))
		for i, b := range s.bots {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if e := b.http.Shutdown(ctx); e != nil {
					errs[i] = fmt.Errorf("bot %s: %w", b.ID, e)
					b.http.Close()
				}
			}()
		}
		wg.Wait()
		err = errors.Join(errs...)
		close(s.stopPrune)
		s.pruned.Wait()
		if e := s.runtime.Shutdown(ctx); e != nil {
			err = errors.Join(err, e)
		}
		if e := s.store.Close(); e != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", e))
		}
	})
	return err
}

// closeAll releases what New acquired when New fails half-way.
func (s *Server) closeAll() {
	for _, b := range s.bots {
		b.listener.Close()
	}
	if s.runtime != nil {
		s.runtime.Shutdown(context.Background())
	}
	if s.store != nil {
		s.store.Close()
	}
}

func (s *Server) health() error {
	if s.stopping.Load() {
		return alice.Errorf(alice.EUnavailable, "shutting down")
	}
	return nil
}

// policyOf is what a bot's conversations need to validate and run tasks.
func policyOf(b config.Bot) actors.BotPolicy {
	workflows := map[string]bool{}
	for name := range b.Workflows {
		workflows[name] = true
	}
	return actors.BotPolicy{
		Rules: alice.TaskRules{
			Zone:        b.Location,
			HasLLM:      b.LLM != nil,
			LLMKey:      "bots." + b.ID + ".llm",
			Workflows:   workflows,
			WorkflowKey: "bots." + b.ID + ".workflows",
		},
		CatchUpWindow: b.CatchUpWindow,
	}
}

// llmOf returns the bot's LLM backend, bounded by its llm.timeout.
func llmOf(b config.Bot) llm.Backend {
	switch {
	case b.LLM == nil:
		return nil
	case len(b.LLM.Command) > 0:
		return llm.WithTimeout(llm.Command{Argv: b.LLM.Command}, b.LLM.Timeout)
	default:
		return llm.WithTimeout(llm.OpenAI{BaseURL: b.LLM.OpenAI.BaseURL, APIKey: b.LLM.OpenAI.APIKey, Model: b.LLM.OpenAI.Model}, b.LLM.Timeout)
	}
}
