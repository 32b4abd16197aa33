package alice

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// MessageKind is what a message carries.
type MessageKind string

const (
	KindText  MessageKind = "text"
	KindImage MessageKind = "image"
	KindFile  MessageKind = "file"
)

// Message is a message as the local outbox keeps and lists it. Empty fields
// are omitted.
type Message struct {
	ID        string      `json:"id"`
	Kind      MessageKind `json:"kind"`
	Text      string      `json:"text,omitempty"`
	Caption   string      `json:"caption,omitempty"`
	FileName  string      `json:"filename,omitempty"`
	Size      int         `json:"size,omitempty"`
	SHA256    string      `json:"sha256,omitempty"`
	Key       string      `json:"key,omitempty"` // a platform key (img_..., file_...) sent instead of bytes
	ReplyTo   string      `json:"reply_to,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
}

// Outgoing is a message to send to a conversation: text, or an image or a
// file given either as bytes or as a key the platform already holds.
type Outgoing struct {
	Kind     MessageKind
	Text     string // KindText
	Caption  string // image or file: delivered with it
	FileName string
	Data     []byte
	Key      string // instead of Data: img_... or file_...
	ReplyTo  string // a message id (om_...) to reply to, or ""
}

// Stored returns the outbox record of m under id, created at now.
func (m *Outgoing) Stored(id string, now time.Time) Message {
	it := Message{
		ID: id, Kind: m.Kind, Text: m.Text, Caption: m.Caption, FileName: m.FileName,
		Key: m.Key, ReplyTo: m.ReplyTo, CreatedAt: now.UTC(),
	}
	if m.Kind != KindText && m.Key == "" {
		sum := sha256.Sum256(m.Data)
		it.Size, it.SHA256 = len(m.Data), hex.EncodeToString(sum[:])
	}
	return it
}

// Defaults of the local outbox's retention, per conversation.
const (
	DefaultOutboxMaxMessages = 1000
	DefaultOutboxMaxAge      = 30 * 24 * time.Hour
)
