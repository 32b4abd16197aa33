// Package messenger defines the port through which the runtime delivers
// messages to a chat platform, and how a conversation is addressed there.
// The Feishu Open Platform (messenger/feishu) implements it; without one, a
// bot's messages go to its local outbox, which the conversations keep
// themselves.
package messenger

import (
	"context"

	"github.com/alice-runtime/alice"
)

// Target is where a message goes: a conversation and the id to address it
// on the platform.
type Target struct {
	Scope         alice.Scope
	ReceiveIDType alice.ReceiveIDType
	ReceiveID     string
}

// TargetOf addresses a scope as automation tasks do: chat scopes by chat_id;
// user scopes by the id kind their prefix shows (ou_ open_id, on_ union_id,
// an address with @ email, anything else user_id).
func TargetOf(s alice.Scope) Target {
	t := Target{Scope: s, ReceiveID: s.ID, ReceiveIDType: alice.ReceiveChatID}
	if s.Type != alice.ScopeChat {
		t.ReceiveIDType = alice.UserIDKind(s.ID)
	}
	return t
}

// TargetFor addresses the conversation a request came from.
func TargetFor(c alice.Conversation) Target {
	return Target{Scope: c.Scope(), ReceiveIDType: c.ReceiveIDType, ReceiveID: c.ReceiveID}
}

// Messenger sends messages to conversations on a chat platform.
//
// Send returns the id of the sent message (for images and files, of the
// attachment itself). dedupeKey, when not empty, makes a retried send
// deliver once: a second send with the same key returns without sending
// again, for as long as the platform remembers keys.
type Messenger interface {
	Send(ctx context.Context, to Target, m alice.Outgoing, dedupeKey string) (messageID string, err error)
}
