package actors

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// timers is the one timer service of a runtime. It scans the due-time index
// in the store and delivers each due entry to its conversation through the
// shards, which activate dormant conversations, so live and dormant ones
// are treated alike and no goroutine or time.Timer exists per task.
type timers struct {
	index   persistence.DueIndex
	deliver func(ctx context.Context, d persistence.Due) (dueAnswer, error)
	clock   alice.Clock
	log     *slog.Logger
	retry   time.Duration // how long a delivered entry is left alone
	// Retries and full scans are operational and timed on the wall clock,
	// so that a test's frozen runtime clock cannot stall them; tests set
	// their own wall.
	wall      func() time.Time
	fullEvery time.Duration // a scan reads from the floor at least this often

	scanning sync.Mutex // one scan at a time
	mu       sync.Mutex // guards inflight and the scan positions below
	inflight map[dueID]*delivery
	// floor is a due time no entry in the index is earlier than, unless a
	// conversation wrote it since the last scan began (then low holds it).
	// A scan seeks there rather than to the index's start: handled entries
	// are deleted, but badger's iterator steps over each deletion until a
	// compaction drops it, so at a thousand firings a second scans from the
	// start walked the whole last minutes, every millisecond.
	floor time.Time
	low   time.Time // the earliest due time written since the last scan began
	lowOK bool      // low holds one
	// frontier is the last entry the last scan read. Every entry before it
	// still in the index is in the in-flight set, being delivered or
	// waiting to be delivered again, so most scans start just past it:
	// while commits are slow (badger merging its levels), a thousand
	// deliveries may wait on them, and scans from the floor read them all
	// again, a page of them taking up to a second. A full scan, from the
	// floor, runs when an entry behind the frontier may be delivered again
	// (retryAt), when one is written there (low), and at least every
	// fullEvery, to forget the entries that left the index.
	frontier *persistence.Due
	retryAt  time.Time // wall clock: the earliest again behind the frontier, zero when none
	lastFull time.Time // wall clock: when the last full scan began

	planned  atomic.Int64 // unix ms of the next planned scan
	wakeup   chan struct{}
	stop     chan struct{}
	loopDone sync.WaitGroup
	sends    chan struct{} // bounds deliveries under way; full when all are
}

// dueID names one due entry.
type dueID struct {
	key  alice.ConversationKey
	kind persistence.DueKind
	id   string
	at   int64
}

// delivery is the timer's record of an entry it has delivered: the entry
// stays in the index until its conversation commits what became of it.
type delivery struct {
	underway  bool      // being delivered now
	again     time.Time // wall clock: deliver again after this
	rewritten bool      // its conversation wrote the entry anew meanwhile
}

const (
	scanBatch  = 1000             // entries read per index page
	maxSleep   = 30 * time.Second // rescan at least this often
	maxSending = 1024             // deliveries under way at once
	soon       = time.Second      // retry after a refusal or an error
)

func newTimers(index persistence.DueIndex, deliver func(context.Context, persistence.Due) (dueAnswer, error), clock alice.Clock, log *slog.Logger, retry time.Duration) *timers {
	return &timers{
		index: index, deliver: deliver, clock: clock, log: log, retry: retry,
		wall: time.Now, fullEvery: time.Second,
		inflight: map[dueID]*delivery{},
		wakeup:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		sends:    make(chan struct{}, maxSending),
	}
}

func (t *timers) start() {
	t.loopDone.Add(1)
	go t.loop()
}

// shutdown stops the loop and waits for deliveries under way, by taking
// every place they could hold.
func (t *timers) shutdown() {
	close(t.stop)
	t.loopDone.Wait()
	for range maxSending {
		t.sends <- struct{}{}
	}
}

// wrote learns of a due entry a conversation committed. An entry written
// anew under the key of one delivered before (a goal's next turn at the
// same millisecond as its last) is new work: the earlier delivery's answer
// no longer holds it back.
func (t *timers) wrote(d persistence.Due) {
	id := dueID{key: d.Key, kind: d.Kind, id: d.ID, at: d.At.UnixMilli()}
	t.mu.Lock()
	if dl := t.inflight[id]; dl != nil {
		if dl.underway {
			dl.rewritten = true
		} else {
			delete(t.inflight, id)
		}
	}
	if !t.lowOK || d.At.Before(t.low) {
		t.low, t.lowOK = d.At, true
	}
	t.mu.Unlock()
	t.wake(&d.At)
}

// scanFrom is where a scan starts: just past the frontier (after), or,
// for a full scan, the floor or lower for an entry written below it. The
// entries written from now on lower the next scan's start.
func (t *timers) scanFrom(force bool) (from time.Time, after *persistence.Due, full bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	wall := t.wall()
	// Compared in milliseconds, the index's resolution: a commit reports
	// its entry's time to the nanosecond.
	full = force || t.frontier == nil || (t.lowOK && t.low.UnixMilli() <= t.frontier.At.UnixMilli()) ||
		(!t.retryAt.IsZero() && !wall.Before(t.retryAt)) || wall.Sub(t.lastFull) >= t.fullEvery
	if !full {
		t.lowOK = false // written past the frontier: this scan reads it
		f := *t.frontier
		return f.At, &f, false
	}
	from = t.floor
	if t.lowOK && t.low.Before(from) {
		from = t.low
	}
	t.lowOK = false
	t.retryAt, t.lastFull = time.Time{}, wall
	return from, nil, true
}

// unscanned gives back the start of a scan that did not finish, so that
// the next one starts there again.
func (t *timers) unscanned(from time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.lowOK || from.Before(t.low) {
		t.low, t.lowOK = from, true
	}
}

// wake makes the loop scan now if at is earlier than its planned scan.
func (t *timers) wake(at *time.Time) {
	if at == nil || at.UnixMilli() >= t.planned.Load() {
		return
	}
	select {
	case t.wakeup <- struct{}{}:
	default:
	}
}

func (t *timers) loop() {
	defer t.loopDone.Done()
	for {
		next, _ := t.scan(context.Background(), false)
		wait := max(min(next.Sub(t.clock.Now()), maxSleep), time.Millisecond)
		timer := time.NewTimer(wait)
		select {
		case <-t.stop:
			timer.Stop()
			return
		case <-t.wakeup:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// scan delivers every entry due by now that is not being handled already
// and returns when the next scan should be. It reads from the floor when
// forced or when a full scan is due, and otherwise from just past the
// frontier. Deliveries go on in the background, at most maxSending at once;
// the WaitGroup waits for the ones this scan started.
func (t *timers) scan(ctx context.Context, force bool) (time.Time, *sync.WaitGroup) {
	var started sync.WaitGroup
	t.scanning.Lock()
	defer t.scanning.Unlock()
	// Due times are read on the runtime's clock, retries on the wall.
	now := t.clock.Now()
	next := now.Add(maxSleep)
	t.planned.Store(next.UnixMilli())
	seen := map[dueID]bool{}
	// Entries are read earliest first, so the first one a full scan reads
	// is the new floor; with none due by now, nothing is left before now
	// (or from).
	from, after, full := t.scanFrom(force)
	floor := maxTime(from, now)
	var last *persistence.Due
	var retryAt time.Time // the earliest again of the entries passed over
	for {
		due, err := t.index.DueBy(ctx, from, now, after, scanBatch)
		if err != nil {
			if full {
				t.unscanned(from)
			}
			t.log.Error("scanning due entries failed", "err", err)
			return now.Add(time.Second), &started
		}
		if full && after == nil && len(due) > 0 {
			floor = due[0].At
		}
		for _, d := range due {
			id := dueID{key: d.Key, kind: d.Kind, id: d.ID, at: d.At.UnixMilli()}
			seen[id] = true
			dl, again := t.claim(id)
			if dl == nil {
				retryAt = earliest(retryAt, again)
				continue
			}
			select {
			case t.sends <- struct{}{}:
			case <-t.stop:
				if full {
					t.unscanned(from)
				}
				return now, &started
			}
			started.Add(1)
			go t.send(ctx, d, dl, &started)
		}
		if len(due) > 0 {
			last = &due[len(due)-1]
		}
		if len(due) < scanBatch {
			break
		}
		after = last
	}
	t.mu.Lock()
	if last != nil {
		t.frontier = last
	}
	if full {
		for id, dl := range t.inflight {
			if !seen[id] && !dl.underway {
				delete(t.inflight, id) // handled: its entry left the index
			}
		}
		t.floor = floor
		t.retryAt = earliest(t.retryAt, retryAt)
	}
	if !t.retryAt.IsZero() {
		next = minTime(next, now.Add(t.retryAt.Sub(t.wall())))
	}
	t.mu.Unlock()
	if at, ok, err := t.index.NextDue(ctx, now); err == nil && ok {
		next = minTime(next, at)
	}
	t.planned.Store(next.UnixMilli())
	return next, &started
}

// claim marks an entry as being delivered, or returns nil and when it may
// be delivered again (zero while a delivery is under way).
func (t *timers) claim(id dueID) (*delivery, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if dl := t.inflight[id]; dl != nil {
		if dl.underway {
			return nil, time.Time{}
		}
		if t.wall().Before(dl.again) {
			return nil, dl.again
		}
	}
	dl := &delivery{underway: true}
	t.inflight[id] = dl
	return dl, time.Time{}
}

// send delivers one entry and decides when it may be delivered again.
func (t *timers) send(ctx context.Context, d persistence.Due, dl *delivery, started *sync.WaitGroup) {
	defer func() { <-t.sends; started.Done() }()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	answer, err := t.deliver(ctx, d)
	cancel()
	wall := t.wall()
	again := wall.Add(t.retry)
	switch {
	case err != nil:
		t.log.Warn("delivering a due entry failed; it is retried", "kind", d.Kind, "task", d.ID, "conversation", d.Key.String(), "err", err)
		again = wall.Add(soon)
	case answer == dueBusy:
		again = wall.Add(soon)
	case answer == dueEarly:
		again = wall.Add(max(d.At.Sub(t.clock.Now()), time.Millisecond))
	}
	t.mu.Lock()
	if dl.rewritten {
		again, dl.rewritten = wall, false
	}
	dl.underway, dl.again = false, again
	t.retryAt = earliest(t.retryAt, again)
	t.mu.Unlock()
	if at := t.clock.Now().Add(again.Sub(wall)); again.Sub(wall) < t.retry {
		t.wake(&at)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// earliest is the earlier of two wall-clock times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// RunDue delivers everything due by the runtime clock's now and waits for
// the conversations to answer. The timer loop runs the same scan; tests that
// move a fake clock call it to avoid waiting for the loop.
func (rt *Runtime) RunDue(ctx context.Context) {
	_, started := rt.timers.scan(ctx, true)
	started.Wait()
}
