package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// result is one measurement: how many operations in how long, and their
// latencies in a histogram (microseconds, up to a minute, 3 significant
// digits), so memory stays small at any rate.
type result struct {
	ops, errors int64
	elapsed     time.Duration
	latency     *hdrhistogram.Histogram
	firstError  error
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
}

func (r result) perSecond() float64 { return float64(r.ops) / r.elapsed.Seconds() }
func (r result) p(q float64) time.Duration {
	return time.Duration(r.latency.ValueAtQuantile(q)) * time.Microsecond
}

// work is what a worker does per operation; it is called with the worker's
// number and the operation's sequence number across all workers.
type work func(worker, seq int) error

// load says how to run an operation: by how many workers, for how long or
// how many times, and at what pace.
type load struct {
	workers  int
	duration time.Duration // how long, when total is 0
	total    int64         // how many operations; 0: for duration
	// rate, when positive, is an open loop: operation i is due at
	// start + i/rate, whatever became of the ones before it, and its latency
	// counts from then, so a server that falls behind shows it in the
	// latencies rather than in a slower pace of requests. 0: each worker
	// starts its next operation when the last one ends (a closed loop).
	rate     float64
	progress io.Writer // a line every second; nil: silent
	label    string
}

// run runs op as l says.
func (l load) run(op work) result {
	var next, ops, errs atomic.Int64
	var mu sync.Mutex
	hist := newHistogram()
	var firstErr error
	start := time.Now()
	stop := start.Add(l.duration)
	done := make(chan struct{})
	if l.progress != nil {
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			last := int64(0)
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					o := ops.Load()
					mu.Lock()
					p99 := time.Duration(hist.ValueAtQuantile(99)) * time.Microsecond
					mu.Unlock()
					fmt.Fprintf(l.progress, "  %s: %s: %d done, %d/s, %d errors, p99 so far %s\n", l.label, time.Since(start).Round(time.Second), o, o-last, errs.Load(), p99)
					last = o
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for w := 0; w < l.workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := newHistogram()
			for i := 0; ; i++ {
				seq := next.Add(1) - 1
				t0 := time.Now()
				if l.rate > 0 {
					t0 = start.Add(time.Duration(float64(seq) / l.rate * float64(time.Second)))
				}
				if (l.total > 0 && seq >= l.total) || (l.total == 0 && t0.After(stop)) {
					break
				}
				if wait := time.Until(t0); wait > 0 {
					time.Sleep(wait) // the open loop's pace
				}
				err := op(w, int(seq))
				lat := time.Since(t0)
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					continue
				}
				ops.Add(1)
				local.RecordValue(int64(lat / time.Microsecond))
				if i%256 == 255 {
					mu.Lock()
					hist.Merge(local)
					mu.Unlock()
					local.Reset()
				}
			}
			mu.Lock()
			hist.Merge(local)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	close(done)
	return result{ops: ops.Load(), errors: errs.Load(), elapsed: time.Since(start), latency: hist, firstError: firstErr}
}

// median is the round with the median rate.
func median(rs []result) result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b result) int { return cmp.Compare(a.perSecond(), b.perSecond()) })
	return sorted[len(sorted)/2]
}
