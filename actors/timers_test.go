package actors

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/persistence"
)

// memIndex is a due index in memory that records where each scan starts
// and what it reads, so the tests can see what the timer service asks the
// store to read. Like the store's, its entries sort by time, then name.
type memIndex struct {
	mu      sync.Mutex
	entries []persistence.Due // earliest first
	starts  []time.Time       // the from of each scan read from a time, not past an entry
	reads   []string          // the ids of every entry read, in order
	fail    int               // scans to fail
}

func compareDue(a, b persistence.Due) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func (m *memIndex) put(d persistence.Due) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, _ := slices.BinarySearchFunc(m.entries, d, compareDue)
	m.entries = slices.Insert(m.entries, i, d)
}

func (m *memIndex) remove(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = slices.DeleteFunc(m.entries, func(e persistence.Due) bool { return e.ID == id })
}

func (m *memIndex) has(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.ContainsFunc(m.entries, func(e persistence.Due) bool { return e.ID == id })
}

func (m *memIndex) lastStart() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.starts[len(m.starts)-1]
}

func (m *memIndex) DueBy(_ context.Context, from, to time.Time, after *persistence.Due, limit int) ([]persistence.Due, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if after == nil {
		m.starts = append(m.starts, from)
	}
	if m.fail > 0 {
		m.fail--
		return nil, errors.New("the disk is gone")
	}
	var out []persistence.Due
	for _, e := range m.entries {
		switch {
		case after != nil && compareDue(e, *after) <= 0:
		case after == nil && e.At.Before(from):
		case e.At.After(to) || len(out) == limit:
			return out, nil
		default:
			out = append(out, e)
			m.reads = append(m.reads, e.ID)
		}
	}
	return out, nil
}

// readSince returns the ids read since the mark n (a length of reads).
func (m *memIndex) readSince(n int) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.reads[n:])
}

func (m *memIndex) readCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.reads)
}

func (m *memIndex) NextDue(_ context.Context, after time.Time) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries {
		if e.At.After(after) {
			return e.At, true, nil
		}
	}
	return time.Time{}, false, nil
}

// timerRig is a timer service over a memIndex whose conversations handle
// every entry (taking it out of the index) except the ones listed in busy,
// which they refuse, and in running, which they start and keep in the
// index, as a conversation does while a worker runs its task. Its wall
// clock is fake too, and a full scan is never due by the wall alone
// unless a test moves it.
type timerRig struct {
	index *memIndex
	clock *fakeclock.Clock
	wall  *fakeclock.Clock
	tm    *timers

	mu        sync.Mutex
	delivered []string
	busy      map[string]bool
	running   map[string]bool
}

var timerBase = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func newTimerRig() *timerRig {
	r := &timerRig{index: &memIndex{}, clock: fakeclock.New(timerBase), wall: fakeclock.New(timerBase),
		busy: map[string]bool{}, running: map[string]bool{}}
	r.tm = newTimers(r.index, r.deliver, r.clock, quietLogger(), time.Minute)
	r.tm.wall, r.tm.fullEvery = r.wall.Now, time.Hour
	return r
}

func (r *timerRig) deliver(_ context.Context, d persistence.Due) (dueAnswer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered = append(r.delivered, d.ID)
	switch {
	case r.busy[d.ID]:
		return dueBusy, nil
	case r.running[d.ID]:
		return dueStarted, nil
	}
	r.index.remove(d.ID)
	return dueStarted, nil
}

// write puts an entry due minute minutes after timerBase, as a
// conversation's commit does: into the index, then told to the timers.
func (r *timerRig) write(id string, minute int) {
	d := persistence.Due{At: timerBase.Add(time.Duration(minute) * time.Minute), Kind: persistence.DueTask, ID: id}
	r.index.put(d)
	r.tm.wrote(d)
}

// scanAt moves the clock to minute minutes after timerBase, scans from
// the floor, as RunDue does, and waits for the deliveries it started.
func (r *timerRig) scanAt(minute int) { r.scanning(minute, true) }

// stepAt is scanAt with the scan the timer loop would make: from the
// frontier unless a full scan is due.
func (r *timerRig) stepAt(minute int) { r.scanning(minute, false) }

func (r *timerRig) scanning(minute int, full bool) {
	r.clock.Set(timerBase.Add(time.Duration(minute) * time.Minute))
	_, started := r.tm.scan(context.Background(), full)
	started.Wait()
}

func (r *timerRig) deliveries(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, d := range r.delivered {
		if d == id {
			n++
		}
	}
	return n
}

func (r *timerRig) wasDelivered(id string) bool { return r.deliveries(id) > 0 }

// TestScansStartAtTheEarliestEntryLeft follows the floor: a scan starts at
// the earliest entry the last scan read (it may still be in the index), or
// at the last scan's time when it read none.
func TestScansStartAtTheEarliestEntryLeft(t *testing.T) {
	r := newTimerRig()
	r.write("a", 1)
	r.write("b", 2)
	r.write("c", 30)
	r.scanAt(10)
	if got := r.index.lastStart(); !got.IsZero() {
		t.Fatalf("the first scan started at %s, want the index's start", got)
	}
	if !r.wasDelivered("a") || !r.wasDelivered("b") || r.wasDelivered("c") {
		t.Fatalf("delivered %v, want a and b", r.delivered)
	}
	r.scanAt(20)
	if got, want := r.index.lastStart(), timerBase.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("the second scan started at %s, want a's time %s", got, want)
	}
	// a and b are handled and c is due at 30: nothing was left before 20.
	r.scanAt(40)
	if got, want := r.index.lastStart(), timerBase.Add(20*time.Minute); !got.Equal(want) || !r.wasDelivered("c") {
		t.Fatalf("the third scan started at %s (want %s) and delivered %v", got, want, r.delivered)
	}
}

func TestTheFloorStaysAtAnEntryNotYetHandled(t *testing.T) {
	r := newTimerRig()
	r.busy["a"] = true
	r.write("a", 1)
	r.write("b", 2)
	r.scanAt(10)
	if !r.index.has("a") || r.index.has("b") {
		t.Fatalf("index after the first scan: a %v, b %v; want a kept, b handled", r.index.has("a"), r.index.has("b"))
	}
	r.scanAt(11)
	if got, want := r.index.lastStart(), timerBase.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("the second scan started at %s, want a's time %s", got, want)
	}
}

func TestAnEntryWrittenBelowTheFloorIsDelivered(t *testing.T) {
	r := newTimerRig()
	r.write("a", 1)
	r.scanAt(10)
	r.scanAt(11) // the floor is now 11 minutes
	// A task whose run_at had passed when it was created, or a clock set
	// back: due before the floor the last scan left.
	r.write("late", 5)
	r.scanAt(12)
	if got, want := r.index.lastStart(), timerBase.Add(5*time.Minute); !got.Equal(want) || !r.wasDelivered("late") {
		t.Fatalf("the scan started at %s (want %s) and delivered %v", got, want, r.delivered)
	}
}

func TestAFailedScanIsStartedOverFromTheSamePlace(t *testing.T) {
	r := newTimerRig()
	r.scanAt(10)
	r.write("late", 5)
	r.index.fail = 1
	r.scanAt(12)
	if r.wasDelivered("late") {
		t.Fatal("delivered from a scan that failed")
	}
	r.scanAt(13)
	if got, want := r.index.lastStart(), timerBase.Add(5*time.Minute); !got.Equal(want) || !r.wasDelivered("late") {
		t.Fatalf("the scan after the failure started at %s (want %s) and delivered %v", got, want, r.delivered)
	}
}

// TestScansFromTheFrontierSkipEntriesUnderWay is why the frontier exists:
// an entry delivered and still in the index (its conversation has not
// committed it yet) is not read again by the scans that follow, which
// read only what came due since.
func TestScansFromTheFrontierSkipEntriesUnderWay(t *testing.T) {
	r := newTimerRig()
	r.running["a"] = true
	r.write("a", 1)
	r.stepAt(2)
	r.write("b", 3)
	mark := r.index.readCount()
	r.stepAt(4)
	if got := r.index.readSince(mark); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("the scan after the first read %v, want only b", got)
	}
	if !r.index.has("a") || r.deliveries("a") != 1 || r.deliveries("b") != 1 {
		t.Fatalf("a in the index %v, delivered %v; want a kept and each delivered once", r.index.has("a"), r.delivered)
	}
}

// TestAnEntryWrittenBehindTheFrontierMakesTheScanFull covers the entries
// a scan from the frontier would pass over: written earlier than the last
// entry read, or at its millisecond but sorting before it, even when the
// commit reports a time finer than the index keeps (a goal's next turn
// set to now, written again as the turn ends).
func TestAnEntryWrittenBehindTheFrontierMakesTheScanFull(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
		at   time.Duration // after timerBase
	}{
		{"earlier", "late", 3 * time.Minute},
		{"same millisecond, sorting before", "0", 5 * time.Minute},
		{"same millisecond, reported to the microsecond", "0", 5*time.Minute + 300*time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTimerRig()
			r.write("a", 5)
			r.stepAt(10) // a is handled and the frontier
			d := persistence.Due{At: timerBase.Add(tc.at), Kind: persistence.DueTask, ID: tc.id}
			r.index.put(persistence.Due{At: d.At.Truncate(time.Millisecond), Kind: d.Kind, ID: d.ID})
			r.tm.wrote(d)
			r.stepAt(11)
			if !r.wasDelivered(tc.id) || r.index.has(tc.id) {
				t.Fatalf("delivered %v, want %s delivered and handled", r.delivered, tc.id)
			}
		})
	}
}

// TestARefusedEntryIsDeliveredAgainWhenItsRetryIsDue: an entry behind the
// frontier is read again only by a full scan, and one comes as soon as a
// refused entry may be delivered again.
func TestARefusedEntryIsDeliveredAgainWhenItsRetryIsDue(t *testing.T) {
	r := newTimerRig()
	r.busy["a"] = true
	r.write("a", 1)
	r.stepAt(2)
	r.write("b", 3)
	r.stepAt(4)
	if r.deliveries("a") != 1 || !r.wasDelivered("b") {
		t.Fatalf("delivered %v before a's retry, want a once and b", r.delivered)
	}
	r.busy["a"] = false
	r.wall.Advance(soon)
	r.stepAt(5)
	if r.deliveries("a") != 2 || r.index.has("a") {
		t.Fatalf("delivered %v, a in the index %v; want a delivered again and handled", r.delivered, r.index.has("a"))
	}
}

// TestAFullScanForgetsEntriesThatLeftTheIndex: the timers' record of an
// entry delivered lasts until a full scan finds it gone, and one comes at
// least every fullEvery even with nothing to retry.
func TestAFullScanForgetsEntriesThatLeftTheIndex(t *testing.T) {
	r := newTimerRig()
	r.tm.fullEvery = time.Second // well before a's retry, a minute after its delivery
	r.running["a"] = true
	r.write("a", 1)
	r.stepAt(2)
	r.index.remove("a") // its worker finished and its conversation committed
	r.stepAt(3)
	if !r.tm.holds("a") {
		t.Fatal("a scan from the frontier forgot a, which only a full scan can know is gone")
	}
	r.wall.Advance(r.tm.fullEvery)
	r.stepAt(4)
	if r.tm.holds("a") {
		t.Fatal("a full scan kept its record of a, which left the index")
	}
}

// holds reports whether the timers keep a record of a delivered entry.
func (t *timers) holds(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.inflight {
		if k.id == id {
			return true
		}
	}
	return false
}
