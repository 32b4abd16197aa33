// Package persistence defines how conversation snapshots are stored, without
// saying where: actors depend on SnapshotStore, and badgerstore implements it
// on a local badger database. A networked store can replace badger later
// behind the same interface.
package persistence

import (
	"context"

	"github.com/alice-runtime/alice"
)

// SnapshotStore keeps one snapshot per conversation.
//
// Save is durable when it returns nil: the snapshot (and every index derived
// from it) is on disk in one transaction. Load of a conversation that was
// never saved returns the zero Snapshot. Errors of a closed or failing store
// carry alice.EUnavailable.
type SnapshotStore interface {
	Load(ctx context.Context, key alice.ConversationKey) (alice.Snapshot, error)
	Save(ctx context.Context, key alice.ConversationKey, s alice.Snapshot) error
}
