// Package actors hosts conversations in protoactor-go. Each conversation (a
// bot and a scope) is one actor that owns its state, applies the pure state
// machines of package alice, persists its snapshot and only then answers.
//
// Callers see only Router. Behind it, a fixed set of shard actors are the
// only ones that spawn conversation actors; a shard buffers traffic for a
// conversation that is passivating and re-spawns it afterwards, caps how
// many conversations stay live (LRU) and passivates idle ones. protoactor is
// kept behind this package so the rest of the code never imports it.
package actors

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// Router delivers a command to the conversation actor of key, activating it
// when it is dormant, and returns the conversation's answer. A deadline on
// ctx bounds the wait; an answer that does not come in time is an
// alice.EUnavailable error (the command may still be applied later).
type Router interface {
	Request(ctx context.Context, key alice.ConversationKey, cmd any) (any, error)
}

// Hooks observe conversation lifecycles, for metrics and tests. They run on
// the conversation's own goroutine and must be fast and safe for concurrent
// use across conversations.
type Hooks struct {
	Activated  func(alice.ConversationKey) // the actor started
	Passivated func(alice.ConversationKey) // the actor stopped
}

// Store is what the runtime needs from persistence: snapshots for the
// conversations and the due-time index for the timer service.
type Store interface {
	persistence.SnapshotStore
	persistence.DueIndex
}

// Config configures a Runtime. Store is required; zero values elsewhere
// take the defaults documented on each field.
type Config struct {
	Store    Store
	Executor Executor             // runs due tasks; default: one that fails every run
	Policies map[string]BotPolicy // per bot id; a bot without one gets defaults
	Clock    alice.Clock          // default: the system clock
	IDs      *alice.IDs           // default: ids from Clock
	Logger   *slog.Logger         // default: slog.Default()
	Hooks    Hooks

	Shards         int           // shard actors; default 32
	MaxLive        int           // live conversations kept in memory; default 20,000
	IdleTimeout    time.Duration // a conversation idle this long is passivated; default 10m
	RequestTimeout time.Duration // wait for an answer when ctx has no deadline; default 30s
	MaxBuffered    int           // requests held per passivating conversation; default 1,024

	Workers    int           // task occurrences run at once; default 64 (they wait on I/O)
	Queue      int           // occurrences waiting for a worker; default 1,024
	JobTimeout time.Duration // bound on one occurrence; default 10m
	TimerRetry time.Duration // a delivered due entry is delivered again after; default 1m
}

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = alice.SystemClock{}
	}
	if c.IDs == nil {
		c.IDs = alice.NewIDs(c.Clock)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Shards <= 0 {
		c.Shards = 32
	}
	if c.MaxLive <= 0 {
		c.MaxLive = 20_000
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.MaxBuffered <= 0 {
		c.MaxBuffered = 1024
	}
	if c.Executor == nil {
		c.Executor = noExecutor{}
	}
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.Queue <= 0 {
		c.Queue = 1024
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 10 * time.Minute
	}
	if c.TimerRetry <= 0 {
		c.TimerRetry = time.Minute
	}
}

// noExecutor is the Executor of a runtime configured without one.
type noExecutor struct{}

func (noExecutor) Execute(context.Context, string, alice.Task, alice.Occurrence) (string, error) {
	return "", errors.New("this runtime has no executor for tasks")
}

// Runtime is the actor system hosting every conversation of every bot. It is
// a Router. Create it with New and end it with Shutdown.
type Runtime struct {
	cfg    Config
	system *actor.ActorSystem
	shards []*actor.PID
	timers *timers
	pool   *pool

	stopping atomic.Bool // Shutdown began: callers are refused
	closing  atomic.Bool // the shards drain: the runtime's own workers are refused too

	stopSweep chan struct{}
	sweepDone sync.WaitGroup
	shutdown  sync.Once
}

var _ Router = (*Runtime)(nil)

// New starts the shard actors and the idle sweep.
func New(cfg Config) (*Runtime, error) {
	if cfg.Store == nil {
		return nil, errors.New("actors: Config.Store is required")
	}
	cfg.setDefaults()
	logger := cfg.Logger
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(demoteInfo{logger.Handler()}).With("component", "protoactor")
	}))
	rt := &Runtime{cfg: cfg, system: system, stopSweep: make(chan struct{})}

	// A shard that panics must keep its children and its buffers: the
	// default guardian would restart it, and a restart stops every child.
	resume := actor.NewOneForOneStrategy(10, time.Second, func(any) actor.Directive { return actor.ResumeDirective })
	perShard := (cfg.MaxLive + cfg.Shards - 1) / cfg.Shards
	for i := 0; i < cfg.Shards; i++ {
		props := actor.PropsFromProducer(func() actor.Actor { return newShard(rt, perShard) }, actor.WithGuardian(resume))
		rt.shards = append(rt.shards, system.Root.Spawn(props))
	}
	rt.sweepDone.Add(1)
	go rt.sweepIdle()
	rt.pool = newPool(rt, cfg.Workers, cfg.Queue, cfg.JobTimeout)
	rt.timers = newTimers(rt, cfg.Store, cfg.TimerRetry)
	rt.timers.start()
	return rt, nil
}

// Request implements Router.
func (rt *Runtime) Request(ctx context.Context, key alice.ConversationKey, cmd any) (any, error) {
	if rt.stopping.Load() {
		return nil, errShuttingDown
	}
	return rt.request(ctx, key, cmd)
}

// request is Request for the runtime's own timer service and workers, which
// keep working while Shutdown waits for them.
func (rt *Runtime) request(ctx context.Context, key alice.ConversationKey, cmd any) (any, error) {
	if rt.closing.Load() {
		return nil, errShuttingDown
	}
	timeout := rt.cfg.RequestTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return nil, alice.Errorf(alice.EUnavailable, "request deadline passed before it reached conversation %s", key.Scope)
	}
	res, err := rt.system.Root.RequestFuture(rt.shardOf(key), &envelope{key: key, cmd: cmd}, timeout).Result()
	switch {
	case errors.Is(err, actor.ErrTimeout):
		return nil, alice.Errorf(alice.EUnavailable, "conversation %s did not answer within %s; retry later", key.Scope, timeout.Round(time.Millisecond))
	case errors.Is(err, actor.ErrDeadLetter):
		return nil, errShuttingDown
	case err != nil:
		return nil, fmt.Errorf("request to conversation %s: %w", key, err)
	}
	r, ok := res.(*reply)
	if !ok {
		return nil, fmt.Errorf("request to conversation %s: unexpected answer %T", key, res)
	}
	return r.value, r.err
}

// Shutdown stops accepting requests, stops the timer service, lets running
// task occurrences finish and record themselves, lets every live
// conversation answer what is queued in its mailbox, and stops all actors.
// It does not close the store, which the caller owns and closes afterwards.
// ctx bounds the wait; occurrences still running then resume after the
// next start.
func (rt *Runtime) Shutdown(ctx context.Context) error {
	var err error
	rt.shutdown.Do(func() {
		rt.stopping.Store(true)
		rt.timers.shutdown()
		rt.pool.drain(ctx)
		rt.closing.Store(true)
		close(rt.stopSweep)
		rt.sweepDone.Wait()

		timeout := 30 * time.Second
		if deadline, ok := ctx.Deadline(); ok {
			timeout = max(time.Until(deadline), time.Millisecond)
		}
		futures := make([]*actor.Future, len(rt.shards))
		for i, pid := range rt.shards {
			futures[i] = rt.system.Root.RequestFuture(pid, drain{}, timeout)
		}
		for i, f := range futures {
			if _, ferr := f.Result(); ferr != nil {
				err = errors.Join(err, fmt.Errorf("drain shard %d: %w", i, ferr))
			}
		}
		for _, pid := range rt.shards {
			_ = rt.system.Root.StopFuture(pid).Wait()
		}
		rt.system.Shutdown()
	})
	return err
}

// sweepIdle asks every shard, twice per idle timeout, to passivate the
// conversations that have been idle too long. One goroutine serves all
// shards; protoactor's SetReceiveTimeout is not used because it races at the
// version we build against.
func (rt *Runtime) sweepIdle() {
	defer rt.sweepDone.Done()
	t := time.NewTicker(max(rt.cfg.IdleTimeout/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-rt.stopSweep:
			return
		case <-t.C:
			for _, pid := range rt.shards {
				rt.system.Root.Send(pid, sweep{})
			}
		}
	}
}

func (rt *Runtime) shardOf(key alice.ConversationKey) *actor.PID {
	h := fnv.New32a()
	h.Write([]byte(key.String()))
	return rt.shards[h.Sum32()%uint32(len(rt.shards))]
}

var errShuttingDown = &alice.Error{Code: alice.EUnavailable, Message: "the runtime is shutting down"}

// demoteInfo logs protoactor's info lines (system started, and the like) at
// debug level: routine for the library, noise for an operator. Warnings and
// errors pass unchanged.
type demoteInfo struct{ slog.Handler }

func (d demoteInfo) Enabled(ctx context.Context, l slog.Level) bool {
	return d.Handler.Enabled(ctx, d.level(l))
}

func (d demoteInfo) Handle(ctx context.Context, r slog.Record) error {
	r.Level = d.level(r.Level)
	return d.Handler.Handle(ctx, r)
}

func (d demoteInfo) WithAttrs(a []slog.Attr) slog.Handler { return demoteInfo{d.Handler.WithAttrs(a)} }
func (d demoteInfo) WithGroup(n string) slog.Handler      { return demoteInfo{d.Handler.WithGroup(n)} }

func (demoteInfo) level(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}
