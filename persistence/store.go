// Package persistence defines how conversations are stored, without saying
// where: the actor runtime depends on these interfaces, and badgerstore
// implements them on a local badger database. A networked store can replace
// badger behind the same interfaces.
//
// A conversation is stored as a small header (its goal and counts) and one
// record per task, plus its run records, outbox messages and idempotency
// records. Each conversation is the single writer of its records: it
// describes what changed in a Change, and the store derives every index
// entry and counter from it, in the same durable commit.
package persistence

import (
	"context"
	"encoding/json"
	"time"

	"github.com/alice-runtime/alice"
)

// Change is one conversation's write. The store turns it into records,
// index entries and counters, and commits them together.
type Change struct {
	// PrevHeader and Header are the header before and after; a nil Header
	// leaves it unchanged.
	PrevHeader, Header *alice.Header
	Tasks              []TaskWrite
	Runs               []alice.RunRecord
	Messages           []MessageWrite
	DeletedMessages    []string // outbox message ids
	Idempotency        []IdempotencyRecord
}

// Empty reports whether the change writes nothing.
func (c *Change) Empty() bool {
	return c.Header == nil && len(c.Tasks) == 0 && len(c.Runs) == 0 && len(c.Messages) == 0 &&
		len(c.DeletedMessages) == 0 && len(c.Idempotency) == 0
}

// TaskWrite is a task record before and after: Prev nil creates it, Next nil
// deletes it with its run records.
type TaskWrite struct {
	Prev, Next *alice.TaskState
}

// MessageWrite is an outbox message and its bytes (nil for text and keys).
type MessageWrite struct {
	Message alice.Message
	Content []byte
}

// IdempotencyRecord remembers a write made with an Idempotency-Key: which
// request it was (Fingerprint) and what it answered, until it expires.
type IdempotencyRecord struct {
	Key         string
	Fingerprint string
	Answer      json.RawMessage
	Expires     time.Time
}

// ConversationStore is what a conversation actor reads and writes.
//
// Commit is durable when it returns nil, and commits the whole change or
// nothing. After a failed Commit the caller must Load again before its next
// Commit. Errors of a closed or failing store carry alice.EUnavailable; a
// file system too full to write safely gives alice.EStorageFull.
type ConversationStore interface {
	// Load reads the conversation's header: all a conversation needs to
	// wake. Its tasks are read one at a time, when a command needs one.
	Load(ctx context.Context, key alice.ConversationKey) (alice.Header, error)
	Commit(ctx context.Context, key alice.ConversationKey, c *Change) error
	// TaskRecord reads one of the conversation's tasks, or an
	// alice.ENotFound error.
	TaskRecord(ctx context.Context, key alice.ConversationKey, id string) (*alice.TaskState, error)
	// OldestFinished lists the ids of the conversation's n oldest
	// completed or cancelled tasks.
	OldestFinished(ctx context.Context, key alice.ConversationKey, n int) ([]string, error)
	// OldestMessages lists the conversation's n oldest outbox messages.
	OldestMessages(ctx context.Context, key alice.ConversationKey, n int) ([]alice.Message, error)
	// Idempotency returns the record of key in the conversation, or nil.
	Idempotency(ctx context.Context, key alice.ConversationKey, idempotencyKey string) (*IdempotencyRecord, error)
}

// TaskReader reads tasks without going through their conversation. It
// reads what Commit committed, so every acknowledged write is visible to
// the next read.
type TaskReader interface {
	// Task returns the bot's task with id and the conversation that owns
	// it, or an alice.ENotFound error.
	Task(ctx context.Context, bot, id string) (*alice.TaskState, alice.ConversationKey, error)
	// Tasks lists matching tasks in creation order with the number of all
	// matching tasks.
	Tasks(ctx context.Context, bot string, f alice.TaskFilter, p alice.Page) ([]alice.Task, int, error)
	// Runs lists a task's recorded occurrences, oldest first.
	Runs(ctx context.Context, taskID string, p alice.Page) ([]alice.Run, int, error)
}

// MessageReader reads a conversation's outbox.
type MessageReader interface {
	Messages(ctx context.Context, key alice.ConversationKey, p alice.Page) ([]alice.Message, int, error)
	// MessageContent returns a message and its bytes, or an alice.ENotFound
	// error; a message of another conversation is not found.
	MessageContent(ctx context.Context, key alice.ConversationKey, id string) (*alice.Message, []byte, error)
}

// DueKind says what a due entry wakes its conversation for.
type DueKind string

const (
	DueTask   DueKind = "task"   // a task's occurrence, or the end of a finished task's retention
	DueOutbox DueKind = "outbox" // the oldest outbox message reaches the age limit
	// The goal's next turn, and its deadline: two entries, so that a turn
	// under way (its wake stays due until it is recorded) cannot hold
	// back the deadline.
	DueGoalWake     DueKind = "goal_wake"
	DueGoalDeadline DueKind = "goal_deadline"
)

// Due is one entry of the due-time index.
type Due struct {
	At   time.Time
	Key  alice.ConversationKey
	Kind DueKind
	ID   string // the task id, for DueTask
}

// DueIndex is what the timer service scans.
type DueIndex interface {
	// DueBy returns up to limit entries due from `from` to `to`, both
	// inclusive, earliest first. With `after` (an entry of an earlier page)
	// it starts just past that entry instead of at from.
	DueBy(ctx context.Context, from, to time.Time, after *Due, limit int) ([]Due, error)
	// NextDue returns the earliest due time strictly after t, if any.
	NextDue(ctx context.Context, after time.Time) (time.Time, bool, error)
}
