package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"
)

// slowCommitTracer keeps the last seconds of an execution trace in memory
// (runtime/trace's flight recorder) and writes them out when a store commit
// is slow: what every goroutine was doing while it waited, which a CPU
// profile cannot show. For diagnosis (the hidden --trace-slow-commits);
// `go tool trace -pprof=sync FILE` reads where goroutines blocked.
type slowCommitTracer struct {
	prefix  string
	slow    time.Duration
	max     int32
	written atomic.Int32
	rec     *trace.FlightRecorder
	log     *slog.Logger
	writing sync.Mutex     // the recorder writes one snapshot at a time
	writers sync.WaitGroup // stop waits for them
}

func startSlowCommitTracer(prefix string, log *slog.Logger) (*slowCommitTracer, error) {
	t := &slowCommitTracer{
		prefix: prefix, slow: 250 * time.Millisecond, max: 4, log: log,
		rec: trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 3 * time.Second, MaxBytes: 256 << 20}),
	}
	if err := t.rec.Start(); err != nil {
		return nil, fmt.Errorf("--trace-slow-commits: %w", err)
	}
	return t, nil
}

// committed is the store's commit hook. It runs on the committer's
// goroutine, so the trace is written on another.
func (t *slowCommitTracer) committed(_ int, took time.Duration) {
	if took < t.slow || t.written.Load() >= t.max {
		return
	}
	n := t.written.Add(1)
	if n > t.max {
		return
	}
	t.writers.Add(1)
	go func() {
		defer t.writers.Done()
		// The pid keeps apart the traces of servers started in turn
		// with one prefix, as the load tool does.
		name := fmt.Sprintf("%s.%d.%d", t.prefix, os.Getpid(), n)
		if err := t.write(name); err != nil {
			t.log.Warn("could not write the trace of a slow commit", "file", name, "err", err)
			return
		}
		t.log.Warn("wrote the trace of a slow commit", "file", name, "commit", took)
	}()
}

// write writes the recorder's window to name, which appears only whole.
func (t *slowCommitTracer) write(name string) error {
	t.writing.Lock()
	defer t.writing.Unlock()
	f, err := os.Create(name + ".partial")
	if err != nil {
		return err
	}
	_, err = t.rec.WriteTo(f)
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	return os.Rename(name+".partial", name)
}

func (t *slowCommitTracer) stop() {
	t.writers.Wait()
	t.rec.Stop()
}
