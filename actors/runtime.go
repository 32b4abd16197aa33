// Package actors hosts conversations in protoactor-go. Each conversation (a
// bot and a scope) is one actor that owns its records, applies the pure
// state machines of package alice, commits each change and only then
// answers. Runtime implements the services of package alice for each bot
// (Runtime.Bot).
//
// Behind it, a fixed set of shard actors are the only ones that spawn
// conversation actors; a shard buffers traffic for a conversation that is
// passivating and re-spawns it afterwards, caps how many conversations stay
// live (LRU) and passivates idle ones. protoactor is kept behind this
// package so the rest of the code never imports it.
package actors

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/messenger"
	"github.com/alice-runtime/alice/persistence"
)

// Hooks observe conversation lifecycles, for metrics and tests. They run on
// the conversation's own goroutine and must be fast and safe for concurrent
// use across conversations.
type Hooks struct {
	Activated  func(alice.ConversationKey) // the actor started
	Passivated func(alice.ConversationKey) // the actor stopped
	// Started: an occurrence of one of bot's tasks started, late by this
	// much after its slot.
	Started func(bot string, late time.Duration)
	// Recorded: an occurrence was recorded with this outcome.
	Recorded func(bot string, outcome alice.Outcome)
	// Attempted: an agent was tried, for a task or a goal turn.
	Attempted func(bot string, a alice.Attempt)
}

func (h Hooks) started(bot string, late time.Duration) {
	if h.Started != nil {
		h.Started(bot, late)
	}
}

func (h Hooks) recorded(bot string, runs []alice.RunRecord) {
	if h.Recorded != nil {
		for _, r := range runs {
			h.Recorded(bot, r.Run.Outcome)
		}
	}
}

func (h Hooks) attempted(bot string, attempts []alice.Attempt) {
	if h.Attempted != nil {
		for _, a := range attempts {
			h.Attempted(bot, a)
		}
	}
}

// Store is everything the runtime needs from persistence.
type Store interface {
	persistence.ConversationStore
	persistence.TaskReader
	persistence.MessageReader
	persistence.DueIndex
}

// BotConfig is what one bot's conversations need. Zero values take the
// defaults documented on each field.
type BotConfig struct {
	Rules         alice.TaskRules
	Goal          alice.GoalRules
	CatchUpWindow time.Duration // a missed slot this recent still runs once; default 1h
	TaskRetention time.Duration // finished tasks are kept this long; default 30 days
	Outbox        OutboxLimits
	// Messenger delivers to the chat platform; nil keeps messages in the
	// conversations' local outbox.
	Messenger messenger.Messenger
	// Agents bounds the LLM tasks and workflows of this bot running at
	// once (default 4), so hung agents of one bot cannot take every worker;
	// AgentQueue bounds those waiting (default 1,024).
	Agents, AgentQueue int
	// JobTimeout bounds one occurrence of this bot, all its attempts
	// included; 0 takes the runtime's.
	JobTimeout time.Duration
	// MaxConsecutiveFailures failed occurrences in a row pause a recurring
	// task (default 3); negative never does.
	MaxConsecutiveFailures int
}

// OutboxLimits bound a bot's local outbox, per conversation.
type OutboxLimits struct {
	MaxMessages int           // the oldest go first; default 1,000
	MaxAge      time.Duration // 0: no age limit
}

func (b *BotConfig) setDefaults() {
	if b.CatchUpWindow == 0 {
		b.CatchUpWindow = time.Hour
	}
	if b.TaskRetention <= 0 {
		b.TaskRetention = alice.DefaultTaskRetention
	}
	if b.Outbox.MaxMessages <= 0 {
		b.Outbox.MaxMessages = alice.DefaultOutboxMaxMessages
	}
	if b.Agents <= 0 {
		b.Agents = 4
	}
	if b.AgentQueue <= 0 {
		b.AgentQueue = 1024
	}
	if b.MaxConsecutiveFailures == 0 {
		b.MaxConsecutiveFailures = 3
	}
}

// Config configures a Runtime. Store is required; zero values elsewhere
// take the defaults documented on each field.
type Config struct {
	Store    Store
	Bots     map[string]BotConfig // by bot id; conversations of other bots get defaults
	Executor Executor             // runs LLM tasks and workflows; default: one that fails them
	Clock    alice.Clock          // default: the system clock
	IDs      *alice.IDs           // default: ids from Clock
	Logger   *slog.Logger         // default: slog.Default()
	Hooks    Hooks

	Shards         int           // shard actors; default 32
	MaxLive        int           // live conversations kept in memory; default 20,000
	IdleTimeout    time.Duration // a conversation idle this long is passivated; default 10m
	RequestTimeout time.Duration // wait for an answer when ctx has no deadline; default 30s
	MaxBuffered    int           // requests held per passivating conversation; default 1,024

	Senders    int           // sends to a chat platform at once; default 64 (they wait on I/O)
	SendQueue  int           // sends waiting for a worker; default 1,024
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
	if c.Executor == nil {
		c.Executor = noExecutor{}
	}
	defaults := []struct {
		v *int
		d int
	}{{&c.Shards, 32}, {&c.MaxLive, 20_000}, {&c.MaxBuffered, 1024}, {&c.Senders, 64}, {&c.SendQueue, 1024}}
	for _, f := range defaults {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	durations := []struct {
		v *time.Duration
		d time.Duration
	}{{&c.IdleTimeout, 10 * time.Minute}, {&c.RequestTimeout, 30 * time.Second}, {&c.JobTimeout, 10 * time.Minute}, {&c.TimerRetry, time.Minute}}
	for _, f := range durations {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
}

// Runtime is the actor system hosting every conversation of every bot.
// Create it with New and end it with Shutdown.
type Runtime struct {
	cfg    Config
	system *actor.ActorSystem
	shards []*actor.PID
	seed   maphash.Seed
	req    *requester
	timers *timers
	sends  *pool
	agents map[string]*pool
	jobs   *jobRunner
	// dispatcher runs every actor's mailbox.
	dispatcher *keptDispatcher
	// stopJobs cancels every job's context, with errShuttingDown as cause.
	stopJobs context.CancelCauseFunc

	stopping atomic.Bool // Shutdown began: callers are refused
	closing  atomic.Bool // the shards drain: the runtime's own reports are refused too

	stopSweep chan struct{}
	sweepDone sync.WaitGroup
	shutdown  sync.Once
}

// New starts the shard actors, the worker pools, the timer service and the
// idle sweep.
func New(cfg Config) (*Runtime, error) {
	if cfg.Store == nil {
		return nil, errors.New("actors: Config.Store is required")
	}
	cfg.setDefaults()
	logger := cfg.Logger
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(demoteInfo{logger.Handler()}).With("component", "protoactor")
	}))
	rt := &Runtime{cfg: cfg, system: system, seed: maphash.MakeSeed(), stopSweep: make(chan struct{}), agents: map[string]*pool{}}
	bots := map[string]*BotConfig{}
	for id, b := range cfg.Bots {
		b.setDefaults()
		bots[id] = &b
		rt.agents[id] = newPool(b.Agents, b.AgentQueue)
	}
	rt.sends = newPool(cfg.Senders, cfg.SendQueue)
	rt.jobs = &jobRunner{executor: cfg.Executor, clock: cfg.Clock, ids: cfg.IDs, timeout: cfg.JobTimeout, report: rt.report}
	rt.req = &requester{root: system.Root, shardOf: rt.shardOf, requestTimeout: cfg.RequestTimeout}
	rt.timers = newTimers(cfg.Store, rt.deliverDue, cfg.Clock, logger, cfg.TimerRetry)
	jobs, stopJobs := context.WithCancelCause(context.Background())
	rt.stopJobs = stopJobs
	d := &deps{
		store: cfg.Store, clock: cfg.Clock, ids: cfg.IDs, log: logger, hooks: cfg.Hooks, bots: bots,
		wrote: rt.timers.wrote, start: rt.start, startIteration: rt.startIteration, notify: rt.notify, jobs: jobs,
	}

	// A shard that panics must keep its children and its buffers: the
	// default guardian would restart it, and a restart stops every child.
	resume := actor.NewOneForOneStrategy(10, time.Second, func(any) actor.Directive { return actor.ResumeDirective })
	rt.dispatcher = newKeptDispatcher(dispatcherThroughput, dispatcherKeep, dispatcherMaxIdle)
	sc := shardConfig{
		dispatcher:      rt.dispatcher,
		newConversation: func(k alice.ConversationKey) actor.Actor { return newConversation(d, k) },
		clock:           cfg.Clock,
		maxLive:         (cfg.MaxLive + cfg.Shards - 1) / cfg.Shards,
		idleTimeout:     cfg.IdleTimeout,
		maxBuffered:     cfg.MaxBuffered,
	}
	for range cfg.Shards {
		props := actor.PropsFromProducer(func() actor.Actor { return newShard(sc) }, actor.WithGuardian(resume), actor.WithDispatcher(rt.dispatcher))
		rt.shards = append(rt.shards, system.Root.Spawn(props))
	}
	rt.sweepDone.Add(1)
	go rt.sweepIdle()
	rt.timers.start()
	return rt, nil
}

// request is how callers reach a conversation; refused once Shutdown began.
func (rt *Runtime) request(ctx context.Context, key alice.ConversationKey, cmd command) (any, error) {
	if rt.stopping.Load() {
		return nil, errShuttingDown
	}
	return rt.req.request(ctx, key, cmd)
}

// internal is request for the runtime's own timer service and workers, which
// keep working while Shutdown waits for them.
func (rt *Runtime) internal(ctx context.Context, key alice.ConversationKey, cmd command) (any, error) {
	if rt.closing.Load() {
		return nil, errShuttingDown
	}
	return rt.req.request(ctx, key, cmd)
}

// deliverDue hands a due entry to its conversation.
func (rt *Runtime) deliverDue(ctx context.Context, d persistence.Due) (dueAnswer, error) {
	var cmd command
	switch d.Kind {
	case persistence.DueTask:
		cmd = taskDue{id: d.ID, at: d.At}
	case persistence.DueOutbox:
		cmd = outboxDue{at: d.At}
	case persistence.DueGoalDeadline:
		cmd = goalDue{at: d.At, deadline: true}
	default:
		cmd = goalDue{at: d.At}
	}
	v, err := rt.internal(ctx, d.Key, cmd)
	a, _ := v.(dueAnswer)
	return a, err
}

// start offers a job to the pool of its kind: the bot's agents for LLM
// tasks and workflows, the shared senders for sends to a chat platform.
func (rt *Runtime) start(j *job) bool {
	p := rt.sends
	if j.task.Action != alice.ActionSendText {
		if p = rt.agents[j.conv.Bot]; p == nil {
			return false
		}
	}
	return p.offer(func() { rt.jobs.run(j) })
}

// startIteration offers a goal loop turn to the bot's agents.
func (rt *Runtime) startIteration(it *iteration) bool {
	p := rt.agents[it.conv.Bot]
	return p != nil && p.offer(func() { rt.jobs.iterate(it) })
}

// notify sends a runtime notice through the bot's platform on the send
// pool; a full pool drops it with a warning rather than hold the
// conversation.
func (rt *Runtime) notify(key alice.ConversationKey, m alice.Outgoing, dedupeKey string) {
	bot, ok := rt.cfg.Bots[key.Bot]
	if !ok || bot.Messenger == nil {
		return
	}
	sent := rt.sends.offer(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := bot.Messenger.Send(ctx, messenger.TargetOf(key.Scope), m, dedupeKey); err != nil {
			rt.cfg.Logger.Warn("sending a notice failed", "conversation", key.String(), "err", err)
		}
	})
	if !sent {
		rt.cfg.Logger.Warn("notice dropped: the send pool is full", "conversation", key.String(), "text", m.Text)
	}
}

// report delivers a finished job (cmd) to its conversation, activating it
// if needed. If it cannot be delivered (the runtime is stopping), the job
// stays unrecorded and runs again after the restart.
func (rt *Runtime) report(key alice.ConversationKey, cmd command, what string) {
	for attempt := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := rt.internal(ctx, key, cmd)
		cancel()
		if err == nil || alice.ErrorCode(err) != alice.EUnavailable {
			if err != nil {
				rt.cfg.Logger.Error("recording a finished job failed", "job", what, "conversation", key.String(), "err", err)
			}
			return
		}
		if rt.closing.Load() {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	rt.cfg.Logger.Warn("a finished job was not recorded; it runs again after a restart", "job", what, "conversation", key.String())
}

// jobStopGrace is how long Shutdown without a deadline waits for the jobs
// it cancelled to stop: an agent gets SIGTERM, then SIGKILL after its grace
// (5s by default), and its worker returns.
const jobStopGrace = 7 * time.Second

// Shutdown stops accepting requests, stops the timer service, lets running
// occurrences finish and record themselves, lets every live conversation
// answer what is queued in its mailbox, and stops all actors. It does not
// close the store, which the caller owns and closes afterwards.
//
// ctx bounds it all: running jobs get most of the time left to finish;
// those still running then are cancelled (their agents stopped) and run
// again after the next start.
func (rt *Runtime) Shutdown(ctx context.Context) error {
	var err error
	rt.shutdown.Do(func() {
		rt.stopping.Store(true)
		rt.timers.shutdown()
		drainCtx, stopCtx := ctx, ctx
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			drainCtx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)*7/10))
			defer cancel()
		} else {
			var cancel context.CancelFunc
			stopCtx, cancel = context.WithTimeout(ctx, jobStopGrace)
			defer cancel()
		}
		pools := append([]*pool{rt.sends}, mapValues(rt.agents)...)
		var wg sync.WaitGroup
		var busy atomic.Bool
		for _, p := range pools {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !p.drain(drainCtx) {
					busy.Store(true)
				}
			}()
		}
		wg.Wait()
		rt.closing.Store(true)
		if busy.Load() {
			rt.stopJobs(errShuttingDown)
			for _, p := range pools {
				p.stop(stopCtx)
			}
		}
		rt.stopJobs(errShuttingDown)
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
		rt.dispatcher.close()
	})
	return err
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
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
	var h maphash.Hash
	h.SetSeed(rt.seed)
	h.WriteString(key.Bot)
	h.WriteByte(0)
	h.WriteString(string(key.Scope.Type))
	h.WriteByte(0)
	h.WriteString(key.Scope.ID)
	return rt.shards[h.Sum64()%uint64(len(rt.shards))]
}

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
