// Package badgerstore implements the persistence interfaces on badger, an
// embedded key-value store on local disk.
package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// Key layout. Every key starts with a short family and a slash, so families
// can be scanned by prefix without touching each other. Numbers in keys are
// fixed-width hex so that byte order is numeric order.
//
//	s/<bot>/<type>/<id>                     snapshot of a conversation
//	t/<bot>/<task id>                        task index: owner key + task JSON
//	d/<due ms>/<task id>/<bot>/<type>/<id>   due-time index (empty values)
//	r/<task id>/<seq>                        run records
//	m/... mc/... mi/...                      outbox (outbox.go)
const (
	prefixSnapshot = "s/"
	prefixTask     = "t/"
	prefixDue      = "d/"
	prefixRun      = "r/"
)

// gcInterval is how often the value log is offered for garbage collection;
// without it rewritten snapshots would grow the disk without bound.
const gcInterval = 5 * time.Minute

// Store is a badger database holding conversations, their indexes and the
// outbox.
type Store struct {
	db     *badger.DB
	log    *slog.Logger
	stop   chan struct{}
	done   sync.WaitGroup
	closed sync.Once
}

var (
	_ persistence.SnapshotStore = (*Store)(nil)
	_ persistence.TaskIndex     = (*Store)(nil)
	_ persistence.DueIndex      = (*Store)(nil)
)

// Open opens (or creates) the database in dir. Writes are synced before they
// are acknowledged; badger groups concurrent commits into one sync.
func Open(dir string, log *slog.Logger) (*Store, error) {
	opts := badger.DefaultOptions(filepath.Clean(dir)).
		WithSyncWrites(true).
		WithLogger(badgerLogger{log.With("component", "badger")}).
		// Small, bounded memory: snapshots are small and few are hot. Two
		// compactors (badger's minimum) and three memtables keep the
		// builders' buffers, the largest use of memory under load, in check.
		WithMemTableSize(16 << 20).
		WithNumMemtables(3).
		WithNumCompactors(2).
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(16 << 20)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open badger in %s: %w", dir, err)
	}
	s := &Store{db: db, log: log, stop: make(chan struct{})}
	s.done.Add(1)
	go s.collectGarbage()
	return s, nil
}

// Close stops background work and closes the database. It is safe to call
// more than once.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.stop)
		s.done.Wait()
		err = s.db.Close()
	})
	return err
}

// Load returns the conversation's snapshot, or the zero Snapshot.
func (s *Store) Load(_ context.Context, key alice.ConversationKey) (alice.Snapshot, error) {
	var snap alice.Snapshot
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(snapshotKey(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			snap, err = persistence.DecodeSnapshot(v)
			return err
		})
	})
	if err != nil {
		return alice.Snapshot{}, storeError("load snapshot of "+key.String(), err)
	}
	return snap, nil
}

// Save writes the snapshot, the run records and the index changes from prev
// to next in one transaction.
func (s *Store) Save(_ context.Context, key alice.ConversationKey, prev, next alice.Snapshot, runs []alice.RunRecord) error {
	value, err := persistence.EncodeSnapshot(next)
	if err != nil {
		return err
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(snapshotKey(key), value); err != nil {
			return err
		}
		if err := updateTaskIndexes(txn, key, prev, next); err != nil {
			return err
		}
		return writeRuns(txn, runs)
	})
	if err != nil {
		return storeError("save snapshot of "+key.String(), err)
	}
	return nil
}

func snapshotKey(key alice.ConversationKey) []byte {
	return []byte(prefixSnapshot + key.String())
}

// storeError wraps err with context and marks a closed database as
// unavailable (the runtime is shutting down) rather than internal.
func storeError(what string, err error) error {
	if errors.Is(err, badger.ErrDBClosed) {
		return fmt.Errorf("%s: %w", what, &alice.Error{Code: alice.EUnavailable, Message: "the store is closed; the runtime is shutting down"})
	}
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("%s: %w", what, &alice.Error{Code: alice.EInvalid, Message: "the change is too large to store at once"})
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (s *Store) collectGarbage() {
	defer s.done.Done()
	t := time.NewTicker(gcInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			// One pass rewrites at most one file; repeat while it helps.
			for s.db.RunValueLogGC(0.5) == nil {
				select {
				case <-s.stop:
					return
				default:
				}
			}
		}
	}
}

// badgerLogger routes badger's printf-style logs into slog. Badger's info
// lines (compactions, replays) are routine, so they go out at debug level.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.l.Debug(fmt.Sprintf(f, a...)) }
