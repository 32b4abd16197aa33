package actors

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/alice-runtime/alice"
)

// command is one request to a conversation. run applies it on the
// conversation's goroutine and returns the answer.
type command interface {
	run(c *conversation) (any, error)
}

// envelope carries a caller's command to a shard and on to the
// conversation, and the answer back on its own channel.
//
// state settles a race that a timeout alone cannot: the conversation takes
// the command (pending → taken) only while the caller still waits, and a
// caller that gives up abandons it (pending → abandoned) only if it was not
// taken. So a caller told "not applied" can be sure of it, and a caller
// whose command was taken waits for its answer a little past its deadline.
type envelope struct {
	key      alice.ConversationKey
	cmd      command
	deadline time.Time // wall clock; the conversation drops the command after it
	request  string    // the id of the request it serves, for the logs
	state    atomic.Int32
	done     chan reply // one answer, never blocks the sender
}

const (
	pending int32 = iota
	taken
	abandoned
)

func (e *envelope) take() bool    { return e.state.CompareAndSwap(pending, taken) }
func (e *envelope) abandon() bool { return e.state.CompareAndSwap(pending, abandoned) }

// answer delivers the answer; only the first one counts.
func (e *envelope) answer(r reply) {
	select {
	case e.done <- r:
	default:
	}
}

// reply is every conversation's answer to an envelope.
type reply struct {
	value any
	err   error
}

// answerGrace is how long a caller waits past its deadline for a command the
// conversation took before the deadline: long enough for a commit under
// load, short enough that a stuck store shows.
const answerGrace = 2 * time.Second

// requester sends commands to conversations through the shards.
type requester struct {
	root           *actor.RootContext
	shardOf        func(alice.ConversationKey) *actor.PID
	requestTimeout time.Duration // when ctx has no deadline
}

// request delivers cmd to the conversation of key and waits for its answer,
// at most until ctx's deadline (and the grace, once the command is taken).
func (r *requester) request(ctx context.Context, key alice.ConversationKey, cmd command) (any, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(r.requestTimeout)
	}
	timeout := time.Until(deadline)
	if ctx.Err() != nil || timeout <= 0 {
		return nil, errNotApplied(key)
	}
	env := &envelope{key: key, cmd: cmd, deadline: deadline, request: alice.RequestID(ctx), done: make(chan reply, 1)}
	r.root.Send(r.shardOf(key), env)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case rep := <-env.done:
		return rep.value, rep.err
	case <-timer.C:
	}
	if env.abandon() {
		return nil, errNotApplied(key)
	}
	timer.Reset(answerGrace)
	select {
	case rep := <-env.done:
		return rep.value, rep.err
	case <-timer.C:
		return nil, alice.Errorf(alice.EUnavailable, "conversation %s did not answer in time; the change may have been applied (retry with the same Idempotency-Key to be sure)", key.Scope)
	}
}

func errNotApplied(key alice.ConversationKey) error {
	return alice.Errorf(alice.EUnavailable, "conversation %s was busy and did not take the request before its deadline; it was not applied, retry later", key.Scope)
}

var errShuttingDown = &alice.Error{Code: alice.EUnavailable, Message: "the runtime is shutting down"}
