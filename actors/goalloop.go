package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/alice-runtime/alice"
)

// The goal loop's guards.
const (
	// fastIteration and maxFastIterations: this many iterations in a row,
	// each quicker than fastIteration and none ending with a positive
	// delay, pause the goal: an agent that neither waits nor finishes
	// would otherwise spin.
	fastIteration     = 3 * time.Minute
	maxFastIterations = 5
	// A failed iteration is tried again after failureBackoff, doubling
	// with each failure in a row up to maxFailureBackoff.
	failureBackoff    = time.Minute
	maxFailureBackoff = time.Hour
)

// Paused reasons the goal loop gives.
const (
	PausedFastLoop = "fast_loop"
	PausedFailing  = "agent_failing"
)

// GoalIteration is one turn of the goal loop handed to the Executor: the
// goal as it stood when the turn began (the turn's number is
// Goal.Iterations+1), the conversation as its agent sees it, and the
// sender for the agent's reply.
type GoalIteration struct {
	Bot          string
	Goal         alice.Goal
	Conversation alice.Conversation
	Now          time.Time
	Send         Sender
}

// iteration is a goal loop turn handed to the bot's agent pool, with what
// the conversation needs to record it when it comes back.
type iteration struct {
	conv   alice.ConversationKey
	bot    *BotConfig
	x      GoalIteration
	wake   time.Time // the wake time it answers
	ctx    context.Context
	cancel context.CancelFunc
}

// startIteration runs the goal's next turn when its wake has come. A bot
// without the goal loop, or a goal that is not in progress, has nothing to
// run: the wake (set by a delay) is cleared so that it does not come again.
func (c *conversation) startIteration(g *alice.Goal, now time.Time) (any, error) {
	if !c.bot.Goal.Loop || g.Status != alice.GoalInProgress {
		next := *g
		next.NextWakeAt = nil
		ch := c.begin()
		ch.header.Goal = &next
		ch.touchHeader()
		return dueStarted, ch.commit()
	}
	if c.iteration != nil {
		return dueRunning, nil
	}
	conv := alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: c.key.Scope.ID}
	if c.key.Scope.Type != alice.ScopeChat {
		conv.ReceiveIDType = alice.UserIDKind(c.key.Scope.ID)
	}
	if l := c.header.Loop; l != nil && l.Origin != nil {
		conv = *l.Origin
	}
	ctx, cancel := context.WithCancel(c.d.jobs)
	if g.DeadlineAt != nil {
		// The turn ends by the deadline at the latest; the deadline's own
		// delivery then times the goal out.
		ctx, cancel = withDeadline(ctx, cancel, c.d.clock, *g.DeadlineAt)
	}
	it := &iteration{conv: c.key, bot: c.bot, wake: *g.NextWakeAt, ctx: ctx, cancel: cancel,
		x: GoalIteration{Bot: c.key.Bot, Goal: *g, Conversation: conv, Now: now}}
	if !c.d.startIteration(it) {
		cancel()
		return dueBusy, nil
	}
	c.iteration = it
	return dueStarted, nil
}

// withDeadline adds a deadline given on the runtime's clock to ctx, which
// may be a fake one in tests: the time left is measured on that clock.
func withDeadline(ctx context.Context, cancel context.CancelFunc, clock alice.Clock, at time.Time) (context.Context, context.CancelFunc) {
	dctx, dcancel := context.WithTimeout(ctx, max(at.Sub(clock.Now()), 0))
	return dctx, func() { dcancel(); cancel() }
}

// cancelIteration stops a running turn, when the goal is paused, deleted
// or timed out. A goal completed (often by its own agent, mid-turn) lets
// the turn finish and deliver its reply.
func (c *conversation) cancelIteration() {
	if c.iteration != nil {
		c.iteration.cancel()
	}
}

// iterationDone brings a finished turn back from its worker.
type iterationDone struct {
	it  *iteration
	res result
}

func (d iterationDone) run(c *conversation) (any, error) {
	it := d.it
	if c.iteration == it {
		c.iteration = nil
	}
	it.cancel()
	ch := c.begin()
	// The reply is delivered even when the goal was completed during the
	// turn: it is usually the agent's last word on it.
	for _, s := range d.res.staged {
		if err := ch.addMessage(s.message, s.content); err != nil {
			return nil, err
		}
	}
	ch.after = append(ch.after, func() { c.d.hooks.attempted(c.key.Bot, d.res.log) })
	g := ch.header.Goal
	if g == nil || g.ID != it.x.Goal.ID || d.res.notStarted {
		return nil, ch.commit()
	}
	if ch.header.Loop == nil {
		ch.header.Loop = &alice.GoalLoop{}
	}
	loop, finished := ch.header.Loop, d.res.finishedAt.UTC()
	started := it.x.Now.UTC()
	g.Iterations = max(g.Iterations, it.x.Goal.Iterations+1)
	g.LastIterationAt, g.LastError, g.UpdatedAt = &started, "", finished
	ch.touchHeader()
	if g.Status != alice.GoalInProgress {
		return nil, ch.commit() // paused meanwhile: it stays so
	}
	// The agent (or anyone) set the next wake during the turn if it moved;
	// it asked to wait if it delayed by a positive duration.
	delayed := g.NextWakeAt == nil || !g.NextWakeAt.Equal(it.wake)
	waited := loop.WaitedAt != nil && !loop.WaitedAt.Before(started)
	if d.res.err != nil {
		g.LastError = alice.Truncate(d.res.err.Error(), maxRunError)
		loop.Failures++
		loop.Fast = 0
		if limit := c.bot.MaxConsecutiveFailures; limit > 0 && loop.Failures >= limit {
			return nil, c.pauseGoal(ch, PausedFailing, fmt.Sprintf(
				"The goal is paused: its agent failed %d turns in a row, the last with: %s. Resume it with: alice runtime goal resume", loop.Failures, g.LastError))
		}
		if wake := finished.Add(min(failureBackoff<<min(loop.Failures-1, 10), maxFailureBackoff)); !delayed || g.NextWakeAt == nil || g.NextWakeAt.Before(wake) {
			g.NextWakeAt = &wake
		}
		return nil, ch.commit()
	}
	loop.Failures = 0
	if finished.Sub(started) < fastIteration && !waited {
		loop.Fast++
	} else {
		loop.Fast = 0
	}
	if loop.Fast >= maxFastIterations {
		return nil, c.pauseGoal(ch, PausedFastLoop, fmt.Sprintf(
			"The goal is paused: its agent took %d quick turns in a row without waiting or completing it. Resume it with: alice runtime goal resume", loop.Fast))
	}
	if !delayed {
		g.NextWakeAt = &finished // no word from the agent: the next turn starts at once
	}
	return nil, ch.commit()
}

// pauseGoal pauses the goal in ch for reason and tells the conversation.
func (c *conversation) pauseGoal(ch *change, reason, notice string) error {
	g := ch.header.Goal
	g.Status, g.NextWakeAt, g.PausedReason = alice.GoalPaused, nil, reason
	ch.header.Loop.Fast, ch.header.Loop.Failures = 0, 0
	if err := c.notice(ch, notice); err != nil {
		return err
	}
	return ch.commit()
}
