// Package outbox is the embedded default messenger: every message is stored
// durably with its conversation, and can be listed and read back through
// the API, so skills and automation can be built and tested without a chat
// platform.
package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/messenger"
)

// Item is a stored message as the API lists it. Empty fields are omitted.
type Item struct {
	ID        string         `json:"id"`
	Kind      messenger.Kind `json:"kind"`
	Text      string         `json:"text,omitempty"`
	Caption   string         `json:"caption,omitempty"`
	FileName  string         `json:"filename,omitempty"`
	Size      int            `json:"size,omitempty"`
	SHA256    string         `json:"sha256,omitempty"`
	ReplyTo   string         `json:"reply_to,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// Store is what the outbox needs from persistence. PutMessage stores the
// item, its content and its idempotency key in one transaction, keeping at
// most keep messages in the conversation; when the key was already used it
// stores nothing and returns the earlier item's id.
type Store interface {
	PutMessage(ctx context.Context, bot string, scope alice.Scope, it Item, content []byte, idempotencyKey string, keep int) (id string, err error)
	Messages(ctx context.Context, bot string, scope alice.Scope, offset, limit int) ([]Item, int, error)
	MessageContent(ctx context.Context, bot string, scope alice.Scope, id string) (Item, []byte, error)
	PruneMessages(ctx context.Context, bot string, before time.Time) (int, error)
}

// Retention bounds what the outbox keeps.
type Retention struct {
	MaxMessages int           // per conversation; the oldest go first
	MaxAge      time.Duration // 0: no age limit
}

// Outbox is one bot's local messenger.
type Outbox struct {
	bot       string
	store     Store
	clock     alice.Clock
	ids       *alice.IDs
	retention Retention
}

var _ messenger.Messenger = (*Outbox)(nil)

// New returns the outbox of bot.
func New(bot string, store Store, clock alice.Clock, ids *alice.IDs, retention Retention) *Outbox {
	return &Outbox{bot: bot, store: store, clock: clock, ids: ids, retention: retention}
}

// CreatedAt reads a message's creation time from its id.
func CreatedAt(id string) (time.Time, bool) {
	u, err := ulid.ParseStrict(strings.ToUpper(strings.TrimPrefix(id, "om_")))
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(u.Time()), true
}

// Prune deletes messages older than the retention's age limit.
func (o *Outbox) Prune(ctx context.Context) (int, error) {
	if o.retention.MaxAge <= 0 {
		return 0, nil
	}
	return o.store.PruneMessages(ctx, o.bot, o.clock.Now().Add(-o.retention.MaxAge))
}

// Send stores m in the target conversation's outbox.
func (o *Outbox) Send(ctx context.Context, to messenger.Target, m messenger.Message) (string, error) {
	it := Item{
		ID: o.ids.New("om_"), Kind: m.Kind, Text: m.Text, Caption: m.Caption, FileName: m.FileName,
		ReplyTo: m.ReplyTo, CreatedAt: o.clock.Now().UTC(),
	}
	if m.Kind != messenger.KindText {
		sum := sha256.Sum256(m.Data)
		it.Size, it.SHA256 = len(m.Data), hex.EncodeToString(sum[:])
	}
	return o.store.PutMessage(ctx, o.bot, to.Scope, it, m.Data, m.IdempotencyKey, o.retention.MaxMessages)
}

// List returns a conversation's messages, oldest first, and their number.
func (o *Outbox) List(ctx context.Context, scope alice.Scope, offset, limit int) ([]Item, int, error) {
	return o.store.Messages(ctx, o.bot, scope, offset, limit)
}

// Content returns a message and its bytes.
func (o *Outbox) Content(ctx context.Context, scope alice.Scope, id string) (Item, []byte, error) {
	return o.store.MessageContent(ctx, o.bot, scope, id)
}
