// Package messenger defines the port through which the runtime delivers
// messages to a conversation: the embedded local outbox by default, the
// Feishu Open Platform when configured.
package messenger

import (
	"context"
	"strings"

	"github.com/alice-runtime/alice"
)

// Kind is what a message carries.
type Kind string

const (
	KindText  Kind = "text"
	KindImage Kind = "image"
	KindFile  Kind = "file"
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
	t := Target{Scope: s, ReceiveID: s.ID}
	switch {
	case s.Type == alice.ScopeChat:
		t.ReceiveIDType = alice.ReceiveChatID
	case strings.HasPrefix(s.ID, "ou_"):
		t.ReceiveIDType = alice.ReceiveOpenID
	case strings.HasPrefix(s.ID, "on_"):
		t.ReceiveIDType = alice.ReceiveUnionID
	case strings.Contains(s.ID, "@"):
		t.ReceiveIDType = alice.ReceiveEmail
	default:
		t.ReceiveIDType = alice.ReceiveUserID
	}
	return t
}

// TargetFor addresses the conversation a request came from.
func TargetFor(c alice.Conversation) Target {
	return Target{Scope: c.Scope(), ReceiveIDType: c.ReceiveIDType, ReceiveID: c.ReceiveID}
}

// Message is one message to send. Data holds the bytes of an image or file.
type Message struct {
	Kind     Kind
	Text     string // KindText
	Caption  string // image or file: delivered with it
	FileName string
	Data     []byte
	ReplyTo  string // a message id (om_...) to reply to, or ""
	// IdempotencyKey makes a retried send deliver once: a second send with
	// the same key returns the first one's message id.
	IdempotencyKey string
}

// Messenger sends messages to conversations. Send returns the id of the
// sent message (for images and files, of the attachment itself).
type Messenger interface {
	Send(ctx context.Context, to Target, m Message) (messageID string, err error)
}
