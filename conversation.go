package alice

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIDBytes bounds every id a caller hands us (receive ids, scope ids,
// message ids), so keys and logs stay small.
const MaxIDBytes = 256

// ScopeType says whether a conversation is a chat or a direct user.
type ScopeType string

const (
	ScopeChat ScopeType = "chat"
	ScopeUser ScopeType = "user"
)

// Scope names one conversation of a bot: "chat/<chat id>" or "user/<id>".
// A conversation's goal and the automation tasks of its scope live together.
type Scope struct {
	Type ScopeType
	ID   string
}

func (s Scope) String() string { return string(s.Type) + "/" + s.ID }

// ParseScope checks a scope type and id as they arrive in a request body.
func ParseScope(typ, id string) (Scope, error) {
	switch ScopeType(typ) {
	case ScopeChat, ScopeUser:
	case "":
		return Scope{}, Errorf(EInvalid, "scope_type is required: chat or user")
	default:
		return Scope{}, Errorf(EInvalid, "scope_type %s is not chat or user", Quote(typ))
	}
	if err := CheckID("scope_id", id); err != nil {
		return Scope{}, err
	}
	return Scope{Type: ScopeType(typ), ID: id}, nil
}

// CheckID refuses empty, oversized, non-UTF-8 and control-character ids,
// naming the field in the error.
func CheckID(field, id string) error {
	switch {
	case id == "":
		return Errorf(EInvalid, "%s is required", field)
	case strings.TrimSpace(id) == "":
		return Errorf(EInvalid, "%s must not be blank", field)
	case len(id) > MaxIDBytes:
		return Errorf(EInvalid, "%s is longer than %d bytes", field, MaxIDBytes)
	case !utf8.ValidString(id):
		return Errorf(EInvalid, "%s is not valid UTF-8", field)
	case strings.ContainsFunc(id, unicode.IsControl):
		return Errorf(EInvalid, "%s contains control characters", field)
	}
	return nil
}

// ConversationKey identifies one conversation actor: a bot and a scope.
type ConversationKey struct {
	Bot   string
	Scope Scope
}

// String is the key's stable text form, "<bot>/<type>/<id>". Bot ids never
// contain '/', and the scope id comes last, so the form is unambiguous.
func (k ConversationKey) String() string { return k.Bot + "/" + k.Scope.String() }

// ParseConversationKey reverses ConversationKey.String.
func ParseConversationKey(s string) (ConversationKey, error) {
	bot, rest, ok1 := strings.Cut(s, "/")
	typ, id, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || bot == "" {
		return ConversationKey{}, fmt.Errorf("conversation key %q: want bot/type/id", s)
	}
	scope, err := ParseScope(typ, id)
	if err != nil {
		return ConversationKey{}, fmt.Errorf("conversation key %q: %w", s, err)
	}
	return ConversationKey{Bot: bot, Scope: scope}, nil
}

// ReceiveIDType is the kind of id in X-Alice-Receive-Id.
type ReceiveIDType string

const (
	ReceiveChatID  ReceiveIDType = "chat_id"
	ReceiveOpenID  ReceiveIDType = "open_id"
	ReceiveUserID  ReceiveIDType = "user_id"
	ReceiveUnionID ReceiveIDType = "union_id"
	ReceiveEmail   ReceiveIDType = "email"
)

// UserIDKind guesses the kind of a user id from its form, for a user
// scope whose kind was never said: Feishu open ids start with ou_, union
// ids with on_, an email has an @, and anything else is a user id.
func UserIDKind(id string) ReceiveIDType {
	switch {
	case strings.HasPrefix(id, "ou_"):
		return ReceiveOpenID
	case strings.HasPrefix(id, "on_"):
		return ReceiveUnionID
	case strings.Contains(id, "@"):
		return ReceiveEmail
	default:
		return ReceiveUserID
	}
}

func (t ReceiveIDType) valid() bool {
	switch t {
	case ReceiveChatID, ReceiveOpenID, ReceiveUserID, ReceiveUnionID, ReceiveEmail:
		return true
	}
	return false
}

// Conversation is what a request tells about the conversation a skill runs
// in (the X-Alice-* headers). Only ReceiveIDType and ReceiveID are required.
type Conversation struct {
	ReceiveIDType   ReceiveIDType
	ReceiveID       string
	ChatType        string // group, topic_group, p2p or ""
	SourceMessageID string // the triggering message; sends reply to it
	ActorUserID     string
	ActorOpenID     string
	SessionKey      string
}

// Scope is "chat/<id>" for chat ids and "user/<id>" for every other kind.
func (c Conversation) Scope() Scope {
	if c.ReceiveIDType == ReceiveChatID {
		return Scope{Type: ScopeChat, ID: c.ReceiveID}
	}
	return Scope{Type: ScopeUser, ID: c.ReceiveID}
}

// Validate checks the fields against the contract, naming the header of a
// bad field so a skill author knows what to fix.
func (c Conversation) Validate() error {
	if c.ReceiveIDType == "" {
		return Errorf(EInvalid, "header X-Alice-Receive-Id-Type is required (chat_id, open_id, user_id, union_id or email)")
	}
	if !c.ReceiveIDType.valid() {
		return Errorf(EInvalid, "header X-Alice-Receive-Id-Type %s is not one of chat_id, open_id, user_id, union_id, email", Quote(string(c.ReceiveIDType)))
	}
	if err := CheckID("header X-Alice-Receive-Id", c.ReceiveID); err != nil {
		return err
	}
	switch c.ChatType {
	case "", "group", "topic_group", "p2p":
	default:
		return Errorf(EInvalid, "header X-Alice-Chat-Type %s is not one of group, topic_group, p2p", Quote(c.ChatType))
	}
	optional := []struct{ name, value string }{
		{"header X-Alice-Source-Message-Id", c.SourceMessageID},
		{"header X-Alice-Actor-User-Id", c.ActorUserID},
		{"header X-Alice-Actor-Open-Id", c.ActorOpenID},
		{"header X-Alice-Session-Key", c.SessionKey},
	}
	for _, f := range optional {
		if f.value == "" {
			continue
		}
		if err := CheckID(f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}
