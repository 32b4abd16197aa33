package actors

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// deps are what conversations share: the narrow parts of the runtime they
// use, not the runtime itself.
type deps struct {
	store persistence.ConversationStore
	clock alice.Clock
	ids   *alice.IDs
	log   *slog.Logger
	hooks Hooks
	bots  map[string]*BotConfig
	// wrote tells the timer service about a due entry a commit wrote: it
	// may be earlier than the time the service sleeps until, or rewrite an
	// entry it delivered before.
	wrote func(d persistence.Due)
	// start hands an occurrence to the worker pool of its kind, or reports
	// that the pool is full; startIteration does so for a goal loop turn.
	start          func(j *job) bool
	startIteration func(it *iteration) bool
	// jobs is the context every job's own derives from; Shutdown cancels it
	// when the jobs outlast its deadline, which stops their agents.
	jobs context.Context
	// notify sends a notice of the runtime's to a conversation through its
	// bot's platform, in the background.
	notify func(key alice.ConversationKey, m alice.Outgoing, dedupeKey string)
}

// conversation is the actor of one bot+scope. It is the only writer of its
// records: it applies a command to a copy of its state, commits the change,
// and adopts the copy and answers only after the commit is durable.
type conversation struct {
	d      *deps
	key    alice.ConversationKey
	bot    *BotConfig
	loaded bool
	// header is all a conversation keeps in memory of its state: its tasks
	// are read from the store when a command or a due time needs one, so
	// neither waking it nor keeping it live costs more with more tasks.
	header alice.Header
	// running holds the occurrences handed to a worker pool and not yet
	// reported back, by task id.
	running map[string]*job
	// iteration is the goal loop's turn handed to a worker, if one is.
	iteration *iteration
}

func newConversation(d *deps, key alice.ConversationKey) *conversation {
	bot := d.bots[key.Bot]
	if bot == nil {
		bot = &BotConfig{}
		bot.setDefaults()
	}
	return &conversation{d: d, key: key, bot: bot, running: map[string]*job{}}
}

func (c *conversation) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if h := c.d.hooks.Activated; h != nil {
			h(c.key)
		}
	case *actor.Stopped:
		if h := c.d.hooks.Passivated; h != nil {
			h(c.key)
		}
	case passivate:
		if len(c.running) > 0 || c.iteration != nil {
			// A worker will report back to this conversation; stopping now
			// would strand the report.
			ctx.Send(ctx.Parent(), passivateRefused{pid: ctx.Self()})
			return
		}
		ctx.Stop(ctx.Self())
	case *envelope:
		if time.Now().After(msg.deadline) {
			// The caller has given up, or is about to: drop the command
			// unapplied, and say so if anyone still listens.
			if msg.abandon() {
				msg.answer(reply{err: errNotApplied(c.key)})
			}
			return
		}
		if !msg.take() {
			return // abandoned by its caller: nobody waits for it
		}
		value, err := c.handle(msg.cmd, msg.request)
		msg.answer(reply{value: value, err: err})
	}
}

// handle runs one command. A panic is turned into an internal error for the
// caller, and the state is reloaded from the store on the next command, so a
// bug cannot leave a half-applied change in memory.
func (c *conversation) handle(cmd command, request string) (value any, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.loaded = false
			c.d.log.Error("conversation panicked", "conversation", c.key.String(), "request_id", request, "panic", p, "stack", string(debug.Stack()))
			value, err = nil, fmt.Errorf("conversation %s panicked: %v", c.key, p)
		}
	}()
	if err := c.load(); err != nil {
		return nil, err
	}
	return cmd.run(c)
}

// load reads the conversation on first use rather than at start, so that a
// failing store answers the request with an error instead of failing the
// actor.
func (c *conversation) load() error {
	if c.loaded {
		return nil
	}
	h, err := c.d.store.Load(context.Background(), c.key)
	if err != nil {
		return err
	}
	c.header, c.loaded = h, true
	return nil
}

func (c *conversation) now() time.Time { return c.d.clock.Now().UTC() }

// change is a change being prepared: a working copy of the header and the
// writes so far. Nothing in memory moves until it commits.
type change struct {
	c      *conversation
	ch     persistence.Change
	header alice.Header
	dirty  bool                        // the header changed
	tasks  map[string]*alice.TaskState // each written task's state after the change
	index  map[string]int              // each written task's place in ch.Tasks
	after  []func()                    // run once the change is committed
}

func (c *conversation) begin() *change {
	return &change{c: c, header: c.header.Clone(), tasks: map[string]*alice.TaskState{}, index: map[string]int{}}
}

// putTask writes a task's next state (nil deletes it), keeping the header's
// counts. prev is its stored state, nil when new; a finished task's comes
// from the store. A task written twice in one change is written once, with
// its last state.
func (ch *change) putTask(prev, next *alice.TaskState) {
	id := taskID(prev, next)
	if i, ok := ch.index[id]; ok {
		prev = ch.ch.Tasks[i].Next // count from the state this change gave it
		ch.ch.Tasks[i].Next = next
	} else {
		ch.index[id] = len(ch.ch.Tasks)
		ch.ch.Tasks = append(ch.ch.Tasks, persistence.TaskWrite{Prev: prev, Next: next})
	}
	if prev != nil {
		ch.count(prev.Status, -1)
	}
	if next != nil {
		ch.count(next.Status, +1)
	}
	ch.tasks[id] = next
}

func taskID(a, b *alice.TaskState) string {
	if a != nil {
		return a.ID
	}
	return b.ID
}

func (ch *change) count(s alice.TaskStatus, d int) {
	ch.header.Tasks.Add(s, d)
	ch.dirty = true
}

// touchHeader marks the header as changed by the caller.
func (ch *change) touchHeader() { ch.dirty = true }

func (ch *change) run(r alice.RunRecord) { ch.ch.Runs = append(ch.ch.Runs, r) }

// commit makes the change durable and then adopts it. On failure the
// conversation forgets its state and reloads it before the next command: a
// failed commit is almost always not applied, but the store, not memory,
// has the last word.
func (ch *change) commit() error {
	c := ch.c
	if ch.dirty {
		ch.ch.PrevHeader, ch.ch.Header = &c.header, &ch.header
	}
	if err := c.d.store.Commit(context.Background(), c.key, &ch.ch); err != nil {
		c.loaded = false
		return err
	}
	if ch.dirty {
		c.header = ch.header
		if at := c.header.OutboxDue; at != nil {
			c.d.wrote(persistence.Due{At: *at, Key: c.key, Kind: persistence.DueOutbox})
		}
		if g := c.header.Goal; g != nil && g.NextWakeAt != nil {
			c.d.wrote(persistence.Due{At: *g.NextWakeAt, Key: c.key, Kind: persistence.DueGoalWake})
		}
		if g := c.header.Goal; g != nil && g.DeadlineAt != nil {
			c.d.wrote(persistence.Due{At: *g.DeadlineAt, Key: c.key, Kind: persistence.DueGoalDeadline})
		}
	}
	for id, ts := range ch.tasks {
		if ts != nil && ts.Due != nil {
			c.d.wrote(persistence.Due{At: *ts.Due, Key: c.key, Kind: persistence.DueTask, ID: id})
		}
	}
	for _, f := range ch.after {
		f()
	}
	return nil
}
