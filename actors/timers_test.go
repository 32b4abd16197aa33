package actors

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/persistence"
)

// memIndex is a due index in memory that records where each scan starts,
// so the tests can see what the timer service asks the store to read.
type memIndex struct {
	mu      sync.Mutex
	entries []persistence.Due // earliest first
	starts  []time.Time       // each scan's from
	fail    int               // scans to fail
}

func (m *memIndex) put(d persistence.Due) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, _ := slices.BinarySearchFunc(m.entries, d.At, func(e persistence.Due, at time.Time) int { return e.At.Compare(at) })
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
	past := after == nil
	for _, e := range m.entries {
		switch {
		case !past:
			past = e.ID == after.ID
		case e.At.Before(from):
		case e.At.After(to) || len(out) == limit:
			return out, nil
		default:
			out = append(out, e)
		}
	}
	return out, nil
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
// every entry (taking it out of the index) except the ones listed in busy.
type timerRig struct {
	index *memIndex
	clock *fakeclock.Clock
	tm    *timers

	mu        sync.Mutex
	delivered []string
	busy      map[string]bool
}

var timerBase = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func newTimerRig() *timerRig {
	r := &timerRig{index: &memIndex{}, clock: fakeclock.New(timerBase), busy: map[string]bool{}}
	r.tm = newTimers(r.index, r.deliver, r.clock, quietLogger(), time.Minute)
	return r
}

func (r *timerRig) deliver(_ context.Context, d persistence.Due) (dueAnswer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered = append(r.delivered, d.ID)
	if r.busy[d.ID] {
		return dueBusy, nil
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

// scanAt moves the clock to minute minutes after timerBase, scans and
// waits for the deliveries it started.
func (r *timerRig) scanAt(minute int) {
	r.clock.Set(timerBase.Add(time.Duration(minute) * time.Minute))
	_, started := r.tm.scan(context.Background())
	started.Wait()
}

func (r *timerRig) wasDelivered(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.delivered, id)
}

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
