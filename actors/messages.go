package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/alice-runtime/alice"
)

// envelope carries a caller's command to a shard and on to the
// conversation. The caller's future is the message's sender, so whoever
// finally handles it answers with Respond.
type envelope struct {
	key alice.ConversationKey
	cmd any
}

// reply is every conversation's answer to an envelope.
type reply struct {
	value any
	err   error
}

// passivate asks a conversation to stop. Sent only by its shard, after which
// the shard buffers new traffic until it sees Terminated or passivateRefused.
type passivate struct{}

// passivateRefused tells the shard the conversation cannot stop now (it has
// work in flight); the shard makes it live again and flushes its buffer.
type passivateRefused struct{ pid *actor.PID }

// sweep asks a shard to passivate its idle conversations.
type sweep struct{}

// drain asks a shard to stop all its conversations and answer when they
// have all terminated. After drain the shard refuses new requests.
type drain struct{}

// drained answers drain.
type drained struct{}
