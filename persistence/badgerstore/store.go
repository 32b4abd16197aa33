// Package badgerstore implements the persistence interfaces on badger, an
// embedded key-value store on local disk. Writes from every conversation go
// through one group committer (committer.go); the key layout is in keys.go.
package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// gcInterval is how often the value log is offered for garbage collection;
// without it rewritten values would grow the disk without bound.
const gcInterval = 5 * time.Minute

// Options tune a Store. Zero values take the defaults.
type Options struct {
	Logger      *slog.Logger // default: slog.Default()
	MinFreeDisk uint64       // refuse writes below this free space; default DefaultMinFreeDisk
	FreeSpace   FreeSpace    // default: StatfsFreeSpace
	// OnCommit, when set, hears of every transaction committed: how many
	// writers it answered and how long badger took to commit and sync it.
	// It runs on the committer's goroutine and must not block.
	OnCommit func(writers int, sync time.Duration)
}

// Store is a badger database holding conversations, their indexes, their
// outboxes and the bots' counters.
type Store struct {
	versions  *versions
	dir       string
	log       *slog.Logger
	committer *committer
	space     *spaceGuard
	stop      chan struct{}
	done      sync.WaitGroup
	closeOnce sync.Once
	closeErr  chan error
}

var (
	_ persistence.ConversationStore = (*Store)(nil)
	_ persistence.TaskReader        = (*Store)(nil)
	_ persistence.MessageReader     = (*Store)(nil)
	_ persistence.DueIndex          = (*Store)(nil)
)

// Open opens (or creates) the database in dir, migrating a data dir written
// by an older format first. Writes are synced before they are acknowledged.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MinFreeDisk == 0 {
		opts.MinFreeDisk = DefaultMinFreeDisk
	}
	if opts.FreeSpace == nil {
		opts.FreeSpace = StatfsFreeSpace
	}
	dir = filepath.Clean(dir)
	v, err := openMigrated(dir, opts.Logger)
	if err != nil {
		return nil, err
	}
	s := &Store{versions: v, dir: dir, log: opts.Logger, stop: make(chan struct{}), closeErr: make(chan error, 1)}
	s.space = &spaceGuard{dir: dir, min: opts.MinFreeDisk, free: opts.FreeSpace}
	s.committer = newCommitter(v, s.space, opts.OnCommit)
	s.done.Add(1)
	go s.collectGarbage()
	return s, nil
}

// openMigrated opens the badger database in dir and brings it to the
// current format: what the server and alice check both start from.
func openMigrated(dir string, log *slog.Logger) (*versions, error) {
	db, err := openBadger(dir, log)
	if err != nil {
		return nil, err
	}
	v := newVersions(db)
	if err := migrate(v, log); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", dir, err)
	}
	return v, nil
}

func openBadger(dir string, log *slog.Logger) (*badger.DB, error) {
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		// One committer writes, so badger need not track reads to detect
		// conflicts between transactions.
		WithDetectConflicts(false).
		WithLogger(badgerLogger{log.With("component", "badger")}).
		// Small, bounded memory: records are small and few are hot. Two
		// compactors (badger's minimum) and three memtables keep the
		// builders' buffers, the largest use of memory under load, in check.
		WithMemTableSize(16 << 20).
		WithNumMemtables(3).
		WithNumCompactors(2).
		WithValueLogFileSize(64 << 20).
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(16 << 20).
		// Fewer, larger compactions: ten level-0 tables before one starts
		// (badger's default is five) and a 64 MB base level (10 MB). Each
		// compaction takes the cores and the disk in a burst that requests
		// wait behind; with half as many, a minute or more of creates had a
		// p99 of 19-28 ms instead of 26-39 ms (BENCHMARKS.md, "Fewer, larger
		// compactions").
		WithNumLevelZeroTables(10).
		WithBaseLevelSize(64 << 20)
	// Tables of every level as small as the base level's (2 MB), where
	// badger doubles them level by level: a compaction keeps a dozen table
	// builders at once, each holding up to twice its table's size, and with
	// 8 MB tables at the bottom of a store of a million tasks they held
	// 300 MB of heap. (There is no With method for this one.)
	opts.TableSizeMultiplier = 1
	// Zstandard instead of badger's default Snappy: tables come out about
	// a quarter smaller, so each flush and compaction is a shorter burst on
	// the disk, and the WAL syncs that queue behind those bursts wait less
	// (BENCHMARKS.md, "Where the tail of durable writes comes from"). Each
	// table's compression is recorded in the manifest, so tables an earlier
	// build wrote with Snappy stay readable.
	opts.Compression = options.ZSTD
	// Managed mode: the store picks every transaction's timestamp
	// (versions.go).
	db, err := badger.OpenManaged(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("data dir %s is in use by another alice process", filepath.Dir(dir))
		}
		return nil, fmt.Errorf("open badger in %s: %w", dir, err)
	}
	return db, nil
}

// Close is CloseContext without a bound.
func (s *Store) Close() error { return s.CloseContext(context.Background()) }

// CloseContext answers pending writes, stops background work and closes
// the database, waiting at most until ctx ends: a database that cannot flush
// (its directory deleted, say) retries forever inside badger, and shutdown
// must not wait for it. Every acknowledged write was already synced, so
// giving up loses nothing acknowledged. It is safe to call more than once.
func (s *Store) CloseContext(ctx context.Context) error {
	s.closeOnce.Do(func() {
		go func() {
			s.committer.close()
			close(s.stop)
			s.done.Wait()
			s.closeErr <- s.versions.db.Close()
		}()
	})
	select {
	case err := <-s.closeErr:
		s.closeErr <- err // for a later call
		return err
	case <-ctx.Done():
		return fmt.Errorf("the store in %s did not close in time (can its directory still be written?): %w", s.dir, ctx.Err())
	}
}

// Health reports why writes are refused, or nil.
func (s *Store) Health() error { return s.space.check() }

// Stats reports what the committer has done since Open.
func (s *Store) Stats() CommitStats { return s.committer.snapshot() }

// Dir is the directory of the database.
func (s *Store) Dir() string { return s.dir }

// storeError wraps err with context and gives the kinds callers act on: a
// closed database is unavailable (the runtime is shutting down), a change
// over badger's limits is invalid.
func storeError(what string, err error) error {
	var ae *alice.Error
	switch {
	case errors.As(err, &ae):
		return err
	case errors.Is(err, badger.ErrDBClosed):
		return fmt.Errorf("%s: %w", what, errClosed)
	case errors.Is(err, badger.ErrTxnTooBig):
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
			for s.versions.db.RunValueLogGC(0.5) == nil {
				select {
				case <-s.stop:
					return
				default:
				}
			}
		}
	}
}

// levelTrace is below debug: badger's routine chatter (compactions, replays,
// table builds) is for people debugging badger, not the runtime.
const levelTrace = slog.LevelDebug - 4

// badgerLogger routes badger's printf-style logs into slog.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...))) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(f, a) }

func (b badgerLogger) log(f string, a []any) {
	if b.l.Enabled(context.Background(), levelTrace) {
		b.l.Log(context.Background(), levelTrace, strings.TrimSpace(fmt.Sprintf(f, a...)))
	}
}
