package actors

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/alice-runtime/alice"
)

// conversation is the actor of one bot+scope. It is the only writer of its
// snapshot: it applies a command to a copy of its state, saves the copy in
// one store transaction, and adopts it and answers only after the save.
type conversation struct {
	rt     *Runtime
	key    alice.ConversationKey
	snap   alice.Snapshot
	loaded bool
	// running holds the occurrences handed to the worker pool and not yet
	// reported back, by task id, with the function that cancels them.
	running map[string]context.CancelFunc
}

func newConversation(rt *Runtime, key alice.ConversationKey) *conversation {
	return &conversation{rt: rt, key: key, running: map[string]context.CancelFunc{}}
}

func (c *conversation) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if h := c.rt.cfg.Hooks.Activated; h != nil {
			h(c.key)
		}
	case *actor.Stopped:
		if h := c.rt.cfg.Hooks.Passivated; h != nil {
			h(c.key)
		}
	case passivate:
		if len(c.running) > 0 {
			// A worker will report back to this conversation; stopping now
			// would strand the report.
			ctx.Send(ctx.Parent(), passivateRefused{pid: ctx.Self()})
			return
		}
		ctx.Stop(ctx.Self())
	case *envelope:
		value, err := c.handle(msg.cmd)
		ctx.Respond(&reply{value: value, err: err})
	}
}

// handle runs one command. A panic is turned into an internal error for the
// caller, and the state is reloaded from the store on the next command, so a
// bug cannot leave a half-applied change in memory.
func (c *conversation) handle(cmd any) (value any, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.loaded = false
			c.rt.cfg.Logger.Error("conversation panicked", "conversation", c.key.String(), "panic", p, "stack", string(debug.Stack()))
			value, err = nil, fmt.Errorf("conversation %s panicked: %v", c.key, p)
		}
	}()
	if err := c.load(); err != nil {
		return nil, err
	}
	switch cmd := cmd.(type) {
	case alice.GoalCommand:
		return c.goal(cmd)
	case createTask:
		return c.createTask(cmd)
	case patchTask:
		return c.patchTask(cmd)
	case deleteTask:
		return c.deleteTask(cmd)
	case timerDue:
		return c.due(cmd)
	case jobDone:
		return nil, c.finish(cmd)
	default:
		return nil, fmt.Errorf("conversation %s: unknown command %T", c.key, cmd)
	}
}

// load reads the snapshot on first use rather than at start, so that a
// failing store answers the request with an error instead of failing the
// actor.
func (c *conversation) load() error {
	if c.loaded {
		return nil
	}
	snap, err := c.rt.cfg.Store.Load(context.Background(), c.key)
	if err != nil {
		return err
	}
	c.snap, c.loaded = snap, true
	return nil
}

// commit saves next, with the given run records, and adopts it. On failure
// the actor forgets its state and reloads it from the store before the next
// command: a failed commit is almost always not applied, but the store, not
// memory, has the last word.
func (c *conversation) commit(next alice.Snapshot, runs []alice.RunRecord) error {
	if err := c.rt.cfg.Store.Save(context.Background(), c.key, c.snap, next, runs); err != nil {
		c.loaded = false
		return err
	}
	c.snap = next
	return nil
}

func (c *conversation) goal(cmd alice.GoalCommand) (*alice.Goal, error) {
	active, shown, err := alice.ApplyGoal(c.snap.Goal, cmd, c.rt.cfg.Clock.Now(), func() string { return c.rt.cfg.IDs.New("goal_") })
	if err != nil || cmd.Op == alice.GoalGet {
		return shown, err
	}
	next := c.snap
	next.Goal = active
	if err := c.commit(next, nil); err != nil {
		return nil, err
	}
	return shown, nil
}

// Goal sends a goal command to the conversation of key and returns the goal
// to show (nil when there is none, or after a delete).
func Goal(ctx context.Context, r Router, key alice.ConversationKey, cmd alice.GoalCommand) (*alice.Goal, error) {
	v, err := r.Request(ctx, key, cmd)
	if err != nil {
		return nil, err
	}
	g, _ := v.(*alice.Goal)
	return g, nil
}
