package actors

import (
	"context"
	"encoding/json"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// goalCmd applies one goal command.
type goalCmd struct {
	op     alice.GoalOp
	create alice.GoalCreate // OpCreate only
}

func (g goalCmd) run(c *conversation) (any, error) {
	apply := func(ch *change) (any, error) {
		active, shown, err := alice.ApplyGoal(c.header.Goal, alice.GoalCommand{Op: g.op, Description: g.create.Description}, c.now(),
			func() string { return c.d.ids.New("goal_") })
		if err != nil || g.op == alice.OpGet {
			return shown, err
		}
		ch.header.Goal = active
		ch.touchHeader()
		return shown, nil
	}
	if g.op == alice.OpGet {
		return apply(c.begin())
	}
	return c.write(g.create.IdempotencyKey, g.create.Fingerprint(), decodeAs[*alice.Goal], apply)
}

// idempotencyTTL is how long an Idempotency-Key is remembered.
const idempotencyTTL = 24 * time.Hour

// write runs do, which adds its writes to a change and returns the answer,
// and commits the change. With an idempotency key, a repeat of the same
// request (same fingerprint) returns the first answer without doing
// anything, a different request with a used key is refused, and a new one
// records the key and its answer in the same commit as its effect.
func (c *conversation) write(key, fingerprint string, decode func([]byte) (any, error), do func(*change) (any, error)) (any, error) {
	if key != "" {
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

// goalDue is the timer service's delivery when the goal's next iteration or
// its deadline comes.
type goalDue struct{ at time.Time }

func (d goalDue) run(c *conversation) (any, error) {
	g := c.header.Goal
	if g == nil || g.Due() == nil || g.Due().UnixMilli() != d.at.UnixMilli() {
		return dueStale, nil
	}
	return dueStale, nil
}
