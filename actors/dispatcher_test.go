package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/alice-runtime/alice/internal/await"
)

func TestKeptDispatcherReusesAnIdleGoroutine(t *testing.T) {
	d := newKeptDispatcher(dispatcherThroughput, time.Hour, dispatcherMaxIdle)
	ran := make(chan struct{}, 3)
	for i := range 3 {
		d.Schedule(func() { ran <- struct{}{} })
		<-ran
		await.Until(t, 10*time.Second, "the goroutine to wait for more", func() bool { return d.idle.Load() == 1 })
		if got := d.started.Load(); got != 1 {
			t.Fatalf("after run %d: %d goroutines started, want 1", i+1, got)
		}
	}
}

func TestKeptDispatcherStartsAGoroutineWhenNoneIsIdle(t *testing.T) {
	d := newKeptDispatcher(dispatcherThroughput, time.Hour, dispatcherMaxIdle)
	release := make(chan struct{})
	var running sync.WaitGroup
	running.Add(2)
	for range 2 {
		d.Schedule(func() { running.Done(); <-release })
	}
	running.Wait() // both run at once, so neither waited for the other
	close(release)
	if got := d.started.Load(); got != 2 {
		t.Fatalf("%d goroutines started, want 2", got)
	}
}

func TestKeptDispatcherLetsIdleGoroutinesExit(t *testing.T) {
	d := newKeptDispatcher(dispatcherThroughput, time.Millisecond, dispatcherMaxIdle)
	var done sync.WaitGroup
	done.Add(10)
	for range 10 {
		d.Schedule(done.Done)
	}
	done.Wait()
	await.Until(t, 10*time.Second, "idle goroutines to exit", func() bool { return d.live.Load() == 0 })
}

func TestKeptDispatcherRunsEverythingScheduledConcurrently(t *testing.T) {
	d := newKeptDispatcher(dispatcherThroughput, time.Hour, dispatcherMaxIdle)
	const n = 2000
	var mu sync.Mutex
	seen := make(map[int]int, n)
	var done sync.WaitGroup
	done.Add(n)
	var callers sync.WaitGroup
	for c := range 8 {
		callers.Add(1)
		go func() {
			defer callers.Done()
			for i := c; i < n; i += 8 {
				d.Schedule(func() {
					mu.Lock()
					seen[i]++
					mu.Unlock()
					done.Done()
				})
			}
		}()
	}
	callers.Wait()
	done.Wait()
	for i := range n {
		if seen[i] != 1 {
			t.Fatalf("run %d ran %d times", i, seen[i])
		}
	}
}

func TestKeptDispatcherCloseEndsIdleGoroutines(t *testing.T) {
	d := newKeptDispatcher(dispatcherThroughput, time.Hour, dispatcherMaxIdle)
	ran := make(chan struct{})
	d.Schedule(func() { close(ran) })
	<-ran
	d.close()
	await.Until(t, 10*time.Second, "the idle goroutine to exit", func() bool { return d.live.Load() == 0 })
	again := make(chan struct{})
	d.Schedule(func() { close(again) })
	<-again // still runs after close
}

func TestKeptDispatcherKeepsAtMostMaxIdle(t *testing.T) {
	d := newKeptDispatcher(dispatcherThroughput, time.Hour, 3)
	release := make(chan struct{})
	var running, done sync.WaitGroup
	running.Add(10)
	done.Add(10)
	for range 10 {
		d.Schedule(func() { running.Done(); <-release; done.Done() })
	}
	running.Wait() // ten goroutines at once
	close(release)
	done.Wait()
	await.Until(t, 10*time.Second, "all but the kept three to exit", func() bool { return d.live.Load() == 3 })
	if got := d.idle.Load(); got != 3 {
		t.Fatalf("%d goroutines idle, want 3", got)
	}
	d.close()
}
