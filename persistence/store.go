// Package persistence defines how conversations are stored, without saying
// where: actors and the HTTP layer depend on these interfaces, and
// badgerstore implements them on a local badger database. A networked store
// can replace badger later behind the same interfaces.
package persistence

import (
	"context"
	"time"

	"github.com/alice-runtime/alice"
)

// SnapshotStore keeps one snapshot per conversation, with the indexes that
// are derived from it.
//
// Save is durable when it returns nil: next, the given run records and every
// index derived from the snapshot (tasks by id, due times) are on disk in one
// transaction, so the indexes never disagree with it. prev is the snapshot
// the caller last loaded or saved for key: each conversation has a single
// writer, which knows it, and the store updates the indexes from the
// difference without reading it back. After a failed Save the caller must
// Load again before its next Save. Load of a conversation that was never
// saved returns the zero Snapshot. Errors of a closed or failing store carry
// alice.EUnavailable.
type SnapshotStore interface {
	Load(ctx context.Context, key alice.ConversationKey) (alice.Snapshot, error)
	Save(ctx context.Context, key alice.ConversationKey, prev, next alice.Snapshot, runs []alice.RunRecord) error
}

// TaskFilter selects tasks of one bot for listing.
type TaskFilter struct {
	Bot    string
	Status alice.TaskStatus // "" = any
	Scope  *alice.Scope     // nil = any; a Scope with an empty ID matches its type
}

// TaskIndex reads tasks without going through their conversation. It reads
// what Save committed, so every acknowledged write is visible to the next
// read.
type TaskIndex interface {
	// Task returns the bot's task with id and the conversation that owns it,
	// or an alice.ENotFound error.
	Task(ctx context.Context, bot, id string) (alice.Task, alice.ConversationKey, error)
	// Tasks lists matching tasks in creation order from offset, at most
	// limit of them, with the number of all matching tasks.
	Tasks(ctx context.Context, f TaskFilter, offset, limit int) ([]alice.Task, int, error)
	// Runs lists a task's recorded occurrences, oldest first.
	Runs(ctx context.Context, taskID string, offset, limit int) ([]alice.Run, int, error)
}

// Due is one entry of the due-time index: a task that must be delivered to
// its conversation at At.
type Due struct {
	At     time.Time
	TaskID string
	Key    alice.ConversationKey
}

// DueIndex is what the timer service scans.
type DueIndex interface {
	// DueBy returns up to limit entries due at or before t, earliest first.
	DueBy(ctx context.Context, t time.Time, limit int) ([]Due, error)
	// NextDue returns the earliest due time strictly after t, if any.
	NextDue(ctx context.Context, after time.Time) (time.Time, bool, error)
}
