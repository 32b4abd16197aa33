package alice

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"time"
)

// The runtime's API, in the manner of WTF Dial's DialService: three
// services with typed inputs and outputs and this package's error kinds.
// The actor runtime implements them in-process (actors.Runtime.Bot), the
// HTTP handler serves them (httpapi), and the Go client implements them over
// HTTP (client), so code written against them runs in-process or remote
// unchanged. Each value serves one bot.

// GoalService drives the goal of the conversation a request comes from.
type GoalService interface {
	// GetGoal returns the active goal, or nil when there is none.
	GetGoal(ctx context.Context, conv Conversation) (*Goal, error)
	CreateGoal(ctx context.Context, conv Conversation, req GoalCreate) (*Goal, error)
	PauseGoal(ctx context.Context, conv Conversation) (*Goal, error)
	ResumeGoal(ctx context.Context, conv Conversation) (*Goal, error)
	// CompleteGoal returns the goal as completed; it is no longer active.
	CompleteGoal(ctx context.Context, conv Conversation) (*Goal, error)
	DeleteGoal(ctx context.Context, conv Conversation) error
	// DelayGoal sets when the goal loop runs its next iteration.
	DelayGoal(ctx context.Context, conv Conversation, req GoalDelay) (*Goal, error)
}

// TaskService manages a bot's automation tasks. Tasks name their
// conversation in their scope, so no Conversation is passed.
type TaskService interface {
	CreateTask(ctx context.Context, req TaskCreate) (*Task, error)
	GetTask(ctx context.Context, id string) (*Task, error)
	// ListTasks returns a page of the matching tasks in creation order and
	// the number of all matching tasks.
	ListTasks(ctx context.Context, f TaskFilter, p Page) ([]Task, int, error)
	// PatchTask applies a JSON merge patch (RFC 7386).
	PatchTask(ctx context.Context, id string, patch TaskInput) (*Task, error)
	DeleteTask(ctx context.Context, id string) error
	// TaskRuns returns a page of the task's recorded occurrences, oldest
	// first, and how many there are.
	TaskRuns(ctx context.Context, id string, p Page) ([]Run, int, error)
}

// MessageService sends to the conversation a request comes from and reads
// back its local outbox.
type MessageService interface {
	// SendMessage sends and returns the message's id (om_...).
	SendMessage(ctx context.Context, conv Conversation, req MessageSend) (string, error)
	// ListMessages returns a page of the conversation's outbox, oldest
	// first, and how many messages it holds.
	ListMessages(ctx context.Context, conv Conversation, p Page) ([]Message, int, error)
	// MessageContent returns an outbox message and its bytes.
	MessageContent(ctx context.Context, conv Conversation, id string) (*Message, []byte, error)
}

// Services is one bot's three services.
type Services interface {
	GoalService
	TaskService
	MessageService
}

// Page selects at most Limit items from Offset.
type Page struct {
	Offset, Limit int
}

// MaxPageSize bounds every list.
const MaxPageSize = 200

// Check applies the list rules: limit 1 to 200, offset 0 or more.
func (p Page) Check() error {
	switch {
	case p.Limit < 1 || p.Limit > MaxPageSize:
		return Errorf(EInvalid, "limit %d must be from 1 to %d", p.Limit, MaxPageSize)
	case p.Offset < 0:
		return Errorf(EInvalid, "offset %d must be 0 or more", p.Offset)
	}
	return nil
}

// TaskFilter selects tasks for ListTasks. Empty fields match anything;
// ScopeID needs ScopeType.
type TaskFilter struct {
	Status    TaskStatus
	ScopeType ScopeType
	ScopeID   string
}

// Check validates the filter's fields.
func (f TaskFilter) Check() error {
	if f.Status != "" && !f.Status.Valid() {
		return Errorf(EInvalid, "status %s must be active, paused, completed or cancelled", Quote(string(f.Status)))
	}
	switch f.ScopeType {
	case "", ScopeChat, ScopeUser:
	default:
		return Errorf(EInvalid, "scope_type %s must be chat or user", Quote(string(f.ScopeType)))
	}
	if f.ScopeID != "" {
		if f.ScopeType == "" {
			return Errorf(EInvalid, "scope_type must be chat or user when filtering by scope_id")
		}
		return CheckID("scope_id", f.ScopeID)
	}
	return nil
}

// GoalCreate asks for a new goal.
type GoalCreate struct {
	Description    string
	DeadlineIn     time.Duration // 0: the bot's default deadline (none unless configured)
	IdempotencyKey string        // optional; see CheckIdempotencyKey
}

// GoalDelay sets the goal's next wake-up: Duration is 0 (at once) or from
// 1 minute to 12 hours; Reason says what it waits for.
type GoalDelay struct {
	Duration time.Duration
	Reason   string
}

// TaskCreate asks for a new task.
type TaskCreate struct {
	Input          TaskInput
	IdempotencyKey string
	// Origin is the conversation the request came from, if any. When it is
	// the task's own scope, the task keeps its context (chat type, session,
	// actor) for the agent that runs it.
	Origin *Conversation
}

// MessageSend asks to send a message.
type MessageSend struct {
	Message        Outgoing
	IdempotencyKey string
}

// CheckIdempotencyKey applies the rule for Idempotency-Key: 1 to 255
// printable ASCII characters. A repeat of a write with the same key and the
// same request returns the first answer; the same key with a different
// request is refused. Keys belong to the conversation the write lands in
// and are kept 24 hours.
func CheckIdempotencyKey(key string) error {
	if len(key) == 0 || len(key) > 255 {
		return Errorf(EInvalid, "Idempotency-Key must be 1 to 255 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return Errorf(EInvalid, "Idempotency-Key must be printable ASCII without spaces")
		}
	}
	return nil
}

// Fingerprint identifies a request, so that a reused idempotency key can be
// told apart from a retry of the same request.
func (r GoalCreate) Fingerprint() string {
	return fingerprint("goal", func(h hash.Hash) { writeField(h, r.Description); writeField(h, r.DeadlineIn.String()) })
}

// Fingerprint identifies a request; see GoalCreate.Fingerprint.
func (r TaskCreate) Fingerprint() string {
	return fingerprint("task", func(h hash.Hash) {
		b, _ := json.Marshal(r.Input) // plain data: cannot fail
		h.Write(b)
	})
}

// Fingerprint identifies a request; see GoalCreate.Fingerprint.
func (r MessageSend) Fingerprint() string {
	m := r.Message
	return fingerprint("message", func(h hash.Hash) {
		for _, f := range []string{string(m.Kind), m.Text, m.Caption, m.FileName, m.Key, m.ReplyTo} {
			writeField(h, f)
		}
		h.Write(m.Data)
	})
}

func fingerprint(kind string, write func(hash.Hash)) string {
	h := sha256.New()
	writeField(h, kind)
	write(h)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// writeField writes s length-prefixed, so that field boundaries cannot shift.
func writeField(h hash.Hash, s string) {
	h.Write(binary.AppendUvarint(nil, uint64(len(s))))
	h.Write([]byte(s))
}
