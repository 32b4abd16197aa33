package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// goalCmd applies one goal command.
type goalCmd struct {
	cmd    alice.GoalCommand
	key    string             // the create's Idempotency-Key
	origin alice.Conversation // the create's conversation, for the goal's agent
}

func (g goalCmd) run(c *conversation) (any, error) {
	apply := func(ch *change) (any, error) {
		active, shown, err := alice.ApplyGoal(c.header.Goal, g.cmd, c.bot.Goal, c.now(), func() string { return c.d.ids.New("goal_") })
		if err != nil || g.cmd.Op == alice.OpGet {
			return shown, err
		}
		ch.header.Goal = active
		ch.touchHeader()
		switch {
		case active == nil:
			ch.header.Loop = nil
		case g.cmd.Op == alice.OpCreate:
			origin := g.origin
			origin.SourceMessageID = ""
			ch.header.Loop = &alice.GoalLoop{Origin: &origin}
		case g.cmd.Op == alice.OpResume && ch.header.Loop != nil:
			ch.header.Loop.Fast, ch.header.Loop.Failures = 0, 0 // a fresh start
		case g.cmd.Op == alice.OpDelay && g.cmd.Delay > 0:
			if ch.header.Loop == nil {
				ch.header.Loop = &alice.GoalLoop{}
			}
			now := c.now()
			ch.header.Loop.WaitedAt = &now
		}
		if g.cmd.Op == alice.OpPause || g.cmd.Op == alice.OpDelete {
			ch.after = append(ch.after, c.cancelIteration)
		}
		if g.cmd.Op == alice.OpDelay && g.cmd.Delay > 0 {
			if err := c.notice(ch, fmt.Sprintf("The goal continues in %s: %s", alice.FormatDuration(g.cmd.Delay), g.cmd.Reason)); err != nil {
				return nil, err
			}
		}
		return shown, nil
	}
	if g.cmd.Op == alice.OpGet {
		return apply(c.begin())
	}
	fingerprint := alice.GoalCreate{Description: g.cmd.Description, DeadlineIn: g.cmd.DeadlineIn}.Fingerprint
	v, err := c.write(g.key, fingerprint, decodeAs[*alice.Goal], apply)
	g2, _ := v.(*alice.Goal)
	return g2, err
}

// goalDue is the timer service's delivery when the goal's next turn or its
// deadline comes.
type goalDue struct {
	at       time.Time
	deadline bool
}

func (d goalDue) run(c *conversation) (any, error) {
	g := c.header.Goal
	if g == nil {
		return dueStale, nil
	}
	due := g.NextWakeAt
	if d.deadline {
		due = g.DeadlineAt
	}
	if due == nil || due.UnixMilli() != d.at.UnixMilli() {
		return dueStale, nil
	}
	now := c.now()
	if due.After(now) {
		return dueEarly, nil
	}
	if g.DeadlineAt != nil && !g.DeadlineAt.After(now) {
		ch := c.begin()
		_, shown, err := alice.ApplyGoal(g, alice.GoalCommand{Op: alice.OpTimeOut}, c.bot.Goal, now, nil)
		if err != nil {
			return dueStale, err
		}
		ch.header.Goal, ch.header.Loop = nil, nil
		ch.touchHeader()
		ch.after = append(ch.after, c.cancelIteration)
		if err := c.notice(ch, fmt.Sprintf("The goal %q timed out: its deadline (%s) passed before it was completed.", shown.Description, g.DeadlineAt.Format(time.RFC3339))); err != nil {
			return dueStale, err
		}
		return dueStarted, ch.commit()
	}
	return c.startIteration(g, now)
}

// notice tells the conversation what the runtime did on its own (a goal
// timed out, waits, or was paused): in the same commit when messages go to
// the local outbox, through the bot's platform after the commit otherwise.
func (c *conversation) notice(ch *change, text string) error {
	m := alice.Outgoing{Kind: alice.KindText, Text: text}
	stored := m.Stored(c.d.ids.New("om_"), c.now())
	if c.bot.Messenger == nil {
		return ch.addMessage(stored, nil)
	}
	ch.after = append(ch.after, func() { c.d.notify(c.key, m, "notice/"+stored.ID) })
	return nil
}

// idempotencyTTL is how long an Idempotency-Key is remembered.
const idempotencyTTL = 24 * time.Hour

// write runs do, which adds its writes to a change and returns the answer,
// and commits the change. With an idempotency key, a repeat of the same
// request (same fingerprint) returns the first answer without doing
// anything, a different request with a used key is refused, and a new one
// records the key and its answer in the same commit as its effect. The
// fingerprint is computed only when there is a key.
func (c *conversation) write(key string, fingerprintOf func() string, decode func([]byte) (any, error), do func(*change) (any, error)) (any, error) {
	var fingerprint string
	if key != "" {
		fingerprint = fingerprintOf()
		answer, err := c.remembered(key, fingerprint)
		if err != nil {
			return nil, err
		}
		if answer != nil {
			return decode(answer)
		}
	}
	ch := c.begin()
	v, err := do(ch)
	if err != nil {
		return nil, err
	}
	if key != "" {
		answer, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		ch.ch.Idempotency = append(ch.ch.Idempotency, persistence.IdempotencyRecord{
			Key: key, Fingerprint: fingerprint, Answer: answer, Expires: time.Now().Add(idempotencyTTL),
		})
	}
	if err := ch.commit(); err != nil {
		return nil, err
	}
	return v, nil
}

// remembered returns the first answer to a request made with key in this
// conversation, nil when the key is new, or an error when the key was used
// for a different request.
func (c *conversation) remembered(key, fingerprint string) (json.RawMessage, error) {
	rec, err := c.d.store.Idempotency(context.Background(), c.key, key)
	if err != nil || rec == nil {
		return nil, err
	}
	if rec.Fingerprint != fingerprint {
		return nil, alice.Errorf(alice.EKeyReused, "Idempotency-Key %s was already used in this conversation for a different request", alice.Quote(key))
	}
	return rec.Answer, nil
}

// decodeAs decodes a remembered answer into a T.
func decodeAs[T any](b []byte) (any, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}
