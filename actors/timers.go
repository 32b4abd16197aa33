package actors

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alice-runtime/alice/persistence"
)

// timers is the one timer service of a runtime. It scans the due-time index
// in the store and delivers each due task to its conversation through the
// Router, which activates dormant conversations, so live and dormant ones
// are treated alike and no goroutine or time.Timer exists per task.
type timers struct {
	rt    *Runtime
	index persistence.DueIndex

	mu       sync.Mutex           // serialises scans
	inflight map[string]time.Time // delivered entries → when (wall clock) to deliver again
	retry    time.Duration        // how long a delivered entry is left alone

	planned atomic.Int64  // unix ms of the next planned scan
	wakeup  chan struct{} // an earlier due time was written
	stop    chan struct{}
	done    sync.WaitGroup
	sends   chan struct{} // bounds deliveries under way
}

const (
	scanBatch  = 1000             // entries read per index scan
	maxSleep   = 30 * time.Second // rescan at least this often
	maxSending = 64               // deliveries under way at once
)

func newTimers(rt *Runtime, index persistence.DueIndex, retry time.Duration) *timers {
	return &timers{
		rt: rt, index: index, retry: retry,
		inflight: map[string]time.Time{},
		wakeup:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		sends:    make(chan struct{}, maxSending),
	}
}

func (t *timers) start() {
	t.done.Add(1)
	go t.loop()
}

// shutdown stops the loop and waits for deliveries under way.
func (t *timers) shutdown() {
	close(t.stop)
	t.done.Wait()
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
	defer t.done.Done()
	for {
		next := t.scan(context.Background())
		wait := next.Sub(t.rt.cfg.Clock.Now())
		wait = max(min(wait, maxSleep), time.Millisecond)
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

// scan delivers every entry due by now that is not already being handled,
// waits for those deliveries, and returns when the next scan should be.
func (t *timers) scan(ctx context.Context) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Due times are read on the runtime's clock; delivery retries are
	// operational and measured on the wall clock, so a test's frozen clock
	// cannot stall them.
	now, wall := t.rt.cfg.Clock.Now(), time.Now()
	next := now.Add(maxSleep)
	t.planned.Store(next.UnixMilli())

	// Entries stay in the index while their occurrence runs, so a scan sees
	// them again; read past the ones already delivered.
	due, err := t.index.DueBy(ctx, now, scanBatch+len(t.inflight))
	if err != nil {
		t.rt.cfg.Logger.Error("scanning due tasks failed", "err", err)
		return now.Add(time.Second)
	}
	complete := len(due) < scanBatch+len(t.inflight)
	seen := make(map[string]bool, len(due))
	sent := make([]string, 0, len(due))
	retrySoon := make([]bool, len(due))
	var wg sync.WaitGroup
	for _, d := range due {
		id := d.TaskID + "@" + d.At.Format(time.RFC3339Nano)
		seen[id] = true
		if again, ok := t.inflight[id]; ok && wall.Before(again) {
			next = minTime(next, now.Add(again.Sub(wall)))
			continue
		}
		t.inflight[id] = wall.Add(t.retry)
		if !t.rt.pool.waitRoom(t.stop) {
			wg.Wait()
			return now
		}
		select {
		case t.sends <- struct{}{}:
		case <-t.stop:
			wg.Wait()
			return now
		}
		i := len(sent)
		sent = append(sent, id)
		wg.Add(1)
		go func() {
			defer func() { <-t.sends; wg.Done() }()
			retrySoon[i] = !t.deliver(ctx, d)
		}()
	}
	wg.Wait()
	for i, id := range sent {
		if retrySoon[i] {
			t.inflight[id] = wall.Add(time.Second)
		}
		next = minTime(next, now.Add(t.inflight[id].Sub(wall)))
	}
	if complete {
		for id := range t.inflight {
			if !seen[id] {
				delete(t.inflight, id) // finished: its entry left the index
			}
		}
	} else {
		next = now // more is due than one batch: continue at once
	}
	if at, ok, err := t.index.NextDue(ctx, now); err == nil && ok {
		next = minTime(next, at)
	}
	t.planned.Store(next.UnixMilli())
	return next
}

// deliver sends one due entry to its conversation. It reports false when the
// entry should be retried soon: the delivery failed, no worker was free, or
// the conversation's clock says it is not due yet.
func (t *timers) deliver(ctx context.Context, d persistence.Due) bool {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := t.rt.request(ctx, d.Key, timerDue{taskID: d.TaskID, at: d.At})
	if err != nil {
		t.rt.cfg.Logger.Warn("delivering a due task failed; it is retried", "task", d.TaskID, "err", err)
		return false
	}
	return v != dueNoWorker && v != dueEarly
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// RunDue delivers everything due by the runtime clock's now and waits for
// the conversations to take it. The timer loop calls the same code; tests
// that move a fake clock call it to avoid waiting for the loop.
func (rt *Runtime) RunDue(ctx context.Context) {
	rt.timers.scan(ctx)
}
