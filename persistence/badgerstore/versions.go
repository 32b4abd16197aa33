package badgerstore

import (
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// versions picks the timestamp of every badger transaction: badger runs in
// managed mode, where the caller does.
//
// In badger's own mode each read takes a lock shared with every commit,
// reports its start and end to a single bookkeeping goroutine over a
// channel, and waits for every commit already under way, sync included. An
// execution trace of the server while 100,000 tasks fired showed reads
// (a conversation waking, a task record read) queued on that lock and
// those waits about as long as writers waited for their commits: while badger
// merges its levels the bookkeeping goroutine gets little CPU, and every
// read stops behind it. Here a read takes the timestamp of the newest
// commit already answered, under a mutex held for a map update, and waits
// for nothing. That is all a caller can observe anyway: a write is visible
// to every read that starts after its writer was answered, and never
// partly.
//
// The store has one writer at a time (the committer, or a migration before
// it starts), so timestamps need no agreement beyond this type.
type versions struct {
	db *badger.DB

	mu      sync.Mutex
	next    uint64         // the timestamp of the next commit; never reused, even after a failed one
	last    uint64         // the timestamp of the newest commit answered: what reads see
	reading map[uint64]int // reads under way, by timestamp
}

func newVersions(db *badger.DB) *versions {
	// Badger's own mode numbers commits too, so a data dir written before
	// this type existed continues above its newest version.
	newest := db.MaxVersion()
	return &versions{db: db, next: newest + 1, last: newest, reading: map[uint64]int{}}
}

// view runs fn in a read-only transaction that sees every commit answered
// before it began.
func (v *versions) view(fn func(*badger.Txn) error) error {
	if v.db.IsClosed() {
		return badger.ErrDBClosed
	}
	v.mu.Lock()
	ts := v.last
	v.reading[ts]++
	v.mu.Unlock()
	defer v.done(ts)
	txn := v.db.NewTransactionAt(ts, false)
	defer txn.Discard()
	return fn(txn)
}

func (v *versions) done(ts uint64) {
	v.mu.Lock()
	if v.reading[ts]--; v.reading[ts] == 0 {
		delete(v.reading, ts)
	}
	v.mu.Unlock()
}

// update runs fn in a read-write transaction and commits it.
func (v *versions) update(fn func(*badger.Txn) error) error {
	txn, ts := v.begin()
	defer txn.Discard()
	if err := fn(txn); err != nil {
		return err
	}
	return v.commit(txn, ts)
}

// begin starts a read-write transaction that reads the newest commit and
// is to commit at the returned timestamp. Only one goroutine may write at a
// time.
func (v *versions) begin() (*badger.Txn, uint64) {
	v.mu.Lock()
	readTs, commitTs := v.last, v.next
	v.next++
	v.mu.Unlock()
	return v.db.NewTransactionAt(readTs, true), commitTs
}

// commit commits txn, begun with begin, at ts and makes it visible.
func (v *versions) commit(txn *badger.Txn, ts uint64) error {
	if err := txn.CommitAt(ts, nil); err != nil {
		return err
	}
	v.committed(ts)
	return nil
}

// batch is a write batch committed at one new timestamp; call committed
// with it after a successful Flush. Only one goroutine may write at a time.
func (v *versions) batch() (*badger.WriteBatch, uint64) {
	v.mu.Lock()
	ts := v.next
	v.next++
	v.mu.Unlock()
	return v.db.NewWriteBatchAt(ts), ts
}

// committed makes the commit at ts visible to the reads that start from
// now on, and lets compaction drop what no read needs any longer.
func (v *versions) committed(ts uint64) {
	v.mu.Lock()
	v.last = max(v.last, ts)
	v.mu.Unlock()
	v.db.SetDiscardTs(v.discardable())
}

// discardable is the oldest timestamp a read under way reads at, or the
// newest commit when none is. Compaction keeps, of each key, every version
// newer than it and the newest one at or below it: all any read can ask for.
func (v *versions) discardable() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	oldest := v.last
	for ts := range v.reading {
		oldest = min(oldest, ts)
	}
	return oldest
}
