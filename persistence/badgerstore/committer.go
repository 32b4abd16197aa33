package badgerstore

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
)

// op is one key written or deleted.
type op struct {
	key, value []byte
	delete     bool
	expires    time.Time // zero: never
}

// counterID names one of a bot's counters. The committer keys its cache
// by it, so a change names the counters it moves without building their
// keys; the keys are built once per batch, when the values are written.
type counterID struct{ bot, name string }

func (id counterID) key() []byte { return tupleKey(famCounter, id.bot, id.name) }

// keyLen is len(id.key()), for a write's size, without building the key.
func (id counterID) keyLen() int { return 1 + partsLen(id.bot, id.name) }

// counterDelta adds delta to a bot's counter.
type counterDelta struct {
	id    counterID
	delta int64
}

// write is one writer's change: its ops commit together or not at all.
type write struct {
	ops      []op
	counters []counterDelta
	done     chan error // buffered: the committer never waits for the writer
}

// size estimates what w adds to a badger transaction, from above: badger
// counts a key, its value (only a pointer once the value is large), two
// bytes of metadata and ten of version for each entry.
func (w *write) size() (count, bytes int64) {
	for _, o := range w.ops {
		bytes += int64(len(o.key)+len(o.value)) + 12
	}
	for _, c := range w.counters {
		bytes += int64(c.id.keyLen()) + 8 + 12
	}
	return int64(len(w.ops) + len(w.counters)), bytes
}

// committer gathers the writes of every conversation into one badger
// transaction per sync (group commit). Badger syncs each transaction once,
// however many entries it holds, so throughput comes from how many writers
// share a sync, not from how many syncs the disk can do.
//
// It is the only writer of the counter keys: it keeps their values in
// memory (read on first use) and writes absolute values, so counters never
// conflict between transactions.
type committer struct {
	versions *versions
	space    *spaceGuard
	in       chan *write
	maxCount int64 // badger's limits for one transaction
	maxBytes int64
	stop     chan struct{}
	done     sync.WaitGroup

	counters map[counterID]int64 // cached values, owned by the committer goroutine
	onCommit func(writers int, sync time.Duration)
	stats    CommitStats // guarded by statsMu
	statsMu  sync.Mutex
}

// CommitStats counts what the committer did, for metrics and benchmarks.
type CommitStats struct {
	Batches int64 // badger transactions committed
	Writes  int64 // writers answered with success
	Failed  int64 // writers answered with an error
	Sync    time.Duration
}

// maxGather bounds how many writers one round takes from the queue; the
// round still splits them where badger's limits require.
const maxGather = 4096

func newCommitter(v *versions, space *spaceGuard, onCommit func(int, time.Duration)) *committer {
	if onCommit == nil {
		onCommit = func(int, time.Duration) {}
	}
	c := &committer{
		versions: v, space: space, onCommit: onCommit,
		in:       make(chan *write, maxGather),
		maxCount: v.db.MaxBatchCount(),
		maxBytes: v.db.MaxBatchSize(),
		stop:     make(chan struct{}),
		counters: map[counterID]int64{},
	}
	c.done.Add(1)
	go c.run()
	return c
}

// submit queues w and waits for its outcome. It fails at once when the
// committer has stopped.
func (c *committer) submit(w *write) error {
	w.done = make(chan error, 1)
	select {
	case c.in <- w:
	case <-c.stop:
		return errClosed
	}
	select {
	case err := <-w.done:
		return err
	case <-c.stop:
		// The committer answers every write it took before it stops.
		select {
		case err := <-w.done:
			return err
		default:
			return errClosed
		}
	}
}

// close stops the committer after it has answered every write it took.
func (c *committer) close() {
	close(c.stop)
	c.done.Wait()
}

func (c *committer) run() {
	defer c.done.Done()
	for {
		var first *write
		select {
		case first = <-c.in:
		case <-c.stop:
			c.drain()
			return
		}
		batch := []*write{first}
		// Yield once before gathering: the writers the last answers woke
		// are runnable but may not have run yet, and a batch that waits
		// for them shares its sync among more. Without it, batches of task
		// creates at full speed held 9-12 writes instead of 17-18, and the
		// benchmarks ran 10-25% slower (BENCHMARKS.md).
		runtime.Gosched()
	gather:
		for len(batch) < maxGather {
			select {
			case w := <-c.in:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		c.commit(batch)
	}
}

// drain answers the writes still queued when the committer stops.
func (c *committer) drain() {
	for {
		select {
		case w := <-c.in:
			w.done <- errClosed
		default:
			return
		}
	}
}

// commit commits batch in as few transactions as badger's limits allow,
// keeping each write whole and the writes in order.
func (c *committer) commit(batch []*write) {
	var group []*write
	var count, bytes int64
	for _, w := range batch {
		n, b := w.size()
		if n+1 >= c.maxCount || b >= c.maxBytes {
			w.done <- alice.Errorf(alice.EInvalid, "the change is too large to store at once (%d entries, about %d bytes)", n, b)
			c.count(0, 1)
			continue
		}
		if len(group) > 0 && (count+n+1 >= c.maxCount || bytes+b >= c.maxBytes) {
			c.commitGroup(group)
			group, count, bytes = nil, 0, 0
		}
		group = append(group, w)
		count, bytes = count+n, bytes+b
	}
	if len(group) > 0 {
		c.commitGroup(group)
	}
}

// commitGroup commits the writes of group in one transaction and answers
// each with its outcome: all succeed or all fail.
func (c *committer) commitGroup(group []*write) {
	err := c.space.check()
	if err == nil {
		err = c.transact(group)
		if errors.Is(err, badger.ErrTxnTooBig) && len(group) > 1 {
			// The estimate was short: halve the group and try each half.
			c.commitGroup(group[:len(group)/2])
			c.commitGroup(group[len(group)/2:])
			return
		}
		if err != nil {
			err = storeError("commit", err)
		}
	}
	for _, w := range group {
		w.done <- err
	}
	if err != nil {
		c.count(0, int64(len(group)))
		return
	}
	c.count(int64(len(group)), 0)
}

func (c *committer) transact(group []*write) (err error) {
	txn, ts := c.versions.begin()
	defer txn.Discard()
	values := map[counterID]int64{} // counters touched by the group, new values
	for _, w := range group {
		for _, o := range w.ops {
			if err := setOp(txn, o); err != nil {
				return err
			}
		}
		for _, d := range w.counters {
			v, ok := values[d.id]
			if !ok {
				if v, err = c.counter(d.id); err != nil {
					return err
				}
			}
			values[d.id] = v + d.delta
		}
	}
	for id, v := range values {
		if err := txn.Set(id.key(), encodeCount(v)); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := c.versions.commit(txn, ts); err != nil {
		for k := range values {
			delete(c.counters, k) // read them again: the store has the last word
		}
		return err
	}
	took := time.Since(start)
	c.statsMu.Lock()
	c.stats.Batches++
	c.stats.Sync += took
	c.statsMu.Unlock()
	c.onCommit(len(group), took)
	for k, v := range values {
		c.counters[k] = v
	}
	return nil
}

func setOp(txn *badger.Txn, o op) error {
	if o.delete {
		return txn.Delete(o.key)
	}
	e := badger.NewEntry(o.key, o.value)
	if !o.expires.IsZero() {
		e = e.WithTTL(max(time.Until(o.expires), time.Second))
	}
	return txn.SetEntry(e)
}

// counter returns a counter's value, reading it from the store once.
func (c *committer) counter(id counterID) (int64, error) {
	if v, ok := c.counters[id]; ok {
		return v, nil
	}
	var v int64
	err := c.versions.view(func(txn *badger.Txn) (err error) {
		v, err = readCount(txn, id.key())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read counter: %w", err)
	}
	c.counters[id] = v
	return v, nil
}

func (c *committer) count(ok, failed int64) {
	c.statsMu.Lock()
	c.stats.Writes += ok
	c.stats.Failed += failed
	c.statsMu.Unlock()
}

func (c *committer) snapshot() CommitStats {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	return c.stats
}

var errClosed = &alice.Error{Code: alice.EUnavailable, Message: "the store is closed; the runtime is shutting down"}
