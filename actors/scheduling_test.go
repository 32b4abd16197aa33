package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

// recorder is an Executor that counts calls per occurrence. With a gate,
// every call waits for the gate (or its context) before returning.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	gate  chan struct{}
}

func newRecorder() *recorder { return &recorder{calls: map[string]int{}} }

func (r *recorder) Execute(ctx context.Context, bot string, task alice.Task, occ alice.Occurrence) (string, error) {
	r.mu.Lock()
	r.calls[occ.ID]++
	r.mu.Unlock()
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return "om_" + occ.ID, nil
}

func (r *recorder) total() (calls, occurrences int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.calls {
		calls += n
	}
	return calls, len(r.calls)
}

// sched is a runtime on real badger with a fake clock.
type sched struct {
	t     *testing.T
	clock *fakeclock.Clock
	store *badgerstore.Store
	rt    *Runtime
	exec  *recorder
}

var t0 = time.Date(2025, 3, 7, 17, 0, 0, 0, time.UTC)

func newSched(t *testing.T, cfg Config) *sched {
	t.Helper()
	s := &sched{t: t, clock: fakeclock.New(t0), exec: newRecorder()}
	s.store = openStore(t, t.TempDir())
	cfg.Store, cfg.Clock, cfg.Executor = s.store, s.clock, s.exec
	if cfg.Policies == nil {
		cfg.Policies = map[string]BotPolicy{"main": {Rules: alice.TaskRules{Zone: time.UTC}, CatchUpWindow: time.Hour}}
	}
	s.rt = startRuntime(t, cfg)
	return s
}

func (s *sched) create(conv int, body string) alice.Task {
	s.t.Helper()
	var in alice.TaskInput
	full := fmt.Sprintf(`{"scope_type":"chat","scope_id":"oc_%d","action":"send_text","text":"hi"%s}`, conv, body)
	if err := json.Unmarshal([]byte(full), &in); err != nil {
		s.t.Fatal(err)
	}
	task, err := CreateTask(context.Background(), s.rt, chatKey(conv), in)
	if err != nil {
		s.t.Fatalf("create %s: %v", full, err)
	}
	return *task
}

// awaitRuns waits until task id has n recorded runs and returns them.
func (s *sched) awaitRuns(id string, n int) []alice.Run {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runs, total, err := s.store.Runs(context.Background(), id, 0, 200)
		if err != nil {
			s.t.Fatal(err)
		}
		if total == n {
			return runs
		}
		if total > n || time.Now().After(deadline) {
			s.t.Fatalf("task %s has %d runs, want %d: %+v", id, total, n, runs)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (s *sched) taskNow(id string) alice.Task {
	s.t.Helper()
	task, _, err := s.store.Task(context.Background(), "main", id)
	if err != nil {
		s.t.Fatal(err)
	}
	return task
}

func TestOneShotRunsOnceAtItsTime(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"run_at":"2025-03-07T18:00:00Z"`)
	s.rt.RunDue(context.Background())
	if calls, _ := s.exec.total(); calls != 0 {
		t.Fatalf("ran %d times an hour early", calls)
	}
	s.clock.Advance(time.Hour)
	s.rt.RunDue(context.Background())
	runs := s.awaitRuns(task.ID, 1)
	r := runs[0]
	if r.Outcome != alice.OutcomeSucceeded || !r.ScheduledAt.Equal(t0.Add(time.Hour)) || !r.StartedAt.Equal(t0.Add(time.Hour)) || r.MessageID != "om_"+r.OccurrenceID {
		t.Fatalf("run = %+v", r)
	}
	got := s.taskNow(task.ID)
	if got.Status != alice.TaskCompleted || got.RunCount != 1 || got.NextRunAt != nil || got.LastRunAt == nil || got.LastError != "" {
		t.Fatalf("task after its run = %+v", got)
	}
	s.clock.Advance(time.Hour)
	s.rt.RunDue(context.Background())
	if calls, _ := s.exec.total(); calls != 1 {
		t.Fatalf("executed %d times, want once", calls)
	}
}

func TestCronAcrossDSTInARealZone(t *testing.T) {
	s := newSched(t, Config{})
	// 09:00 in New York every day, across the spring-forward of 9 March 2025.
	task := s.create(1, `,"cron":"0 9 * * *","timezone":"America/New_York"`)
	ny, _ := time.LoadLocation("America/New_York")
	want := []string{"2025-03-08T09:00:00-05:00", "2025-03-09T09:00:00-04:00", "2025-03-10T09:00:00-04:00"}
	for i, w := range want {
		slot, _ := time.Parse(time.RFC3339, w)
		s.clock.Set(slot.Add(time.Second))
		s.rt.RunDue(context.Background())
		runs := s.awaitRuns(task.ID, i+1)
		if got := runs[i].ScheduledAt.In(ny).Format(time.RFC3339); got != w {
			t.Fatalf("run %d scheduled at %s, want %s", i, got, w)
		}
	}
	if got := s.taskNow(task.ID); got.Status != alice.TaskActive || got.RunCount != 3 || got.NextRunAt.In(ny).Format(time.RFC3339) != "2025-03-11T09:00:00-04:00" {
		t.Fatalf("task = %+v", got)
	}
}

func TestEveryRunsEachPeriod(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"cron":"@every 1h"`)
	for i := 1; i <= 3; i++ {
		s.clock.Advance(time.Hour)
		s.rt.RunDue(context.Background())
		runs := s.awaitRuns(task.ID, i)
		if !runs[i-1].ScheduledAt.Equal(t0.Add(time.Duration(i) * time.Hour)) {
			t.Fatalf("run %d scheduled at %s", i, runs[i-1].ScheduledAt)
		}
	}
}

func TestManyDueAtOnceAllFireOnce(t *testing.T) {
	const conversations, perConversation = 100, 5
	s := newSched(t, Config{})
	var ids []string
	for c := 0; c < conversations; c++ {
		for i := 0; i < perConversation; i++ {
			ids = append(ids, s.create(c, `,"run_at":"2025-03-07T17:30:00Z"`).ID)
		}
	}
	s.clock.Advance(30 * time.Minute)
	s.rt.RunDue(context.Background())
	for _, id := range ids {
		s.awaitRuns(id, 1)
	}
	s.clock.Advance(time.Minute)
	s.rt.RunDue(context.Background())
	calls, occurrences := s.exec.total()
	if calls != len(ids) || occurrences != len(ids) {
		t.Fatalf("%d calls for %d occurrences, want %d each", calls, occurrences, len(ids))
	}
}

func TestDormantConversationsAreWoken(t *testing.T) {
	life := newLifecycles(t)
	s := newSched(t, Config{Hooks: life.hooks(), Shards: 1, MaxLive: 2, IdleTimeout: time.Millisecond})
	var ids []string
	for c := 0; c < 10; c++ {
		ids = append(ids, s.create(c, `,"run_at":"2025-03-07T17:05:00Z"`).ID)
	}
	// Idle passivation reads the runtime's clock: move it past the idle
	// timeout, then wait until every conversation has passivated.
	s.clock.Advance(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for life.passivated.Load() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d conversations passivated", life.passivated.Load())
		}
		time.Sleep(time.Millisecond)
	}
	s.clock.Advance(5 * time.Minute)
	s.rt.RunDue(context.Background())
	for c, id := range ids {
		s.awaitRuns(id, 1)
		if life.activationsOf(chatKey(c)) < 2 {
			t.Fatalf("conversation %d ran its task without being re-activated", c)
		}
	}
}

func TestCancelledAndDeletedTasksNeverFire(t *testing.T) {
	s := newSched(t, Config{})
	ctx := context.Background()
	keep := s.create(1, `,"run_at":"2025-03-07T17:10:00Z"`)
	cancelled := s.create(1, `,"run_at":"2025-03-07T17:10:00Z"`)
	deleted := s.create(2, `,"cron":"@every 5m"`)
	var patch alice.TaskInput
	json.Unmarshal([]byte(`{"status":"cancelled"}`), &patch)
	if _, err := PatchTask(ctx, s.rt, chatKey(1), cancelled.ID, patch); err != nil {
		t.Fatal(err)
	}
	if err := DeleteTask(ctx, s.rt, chatKey(2), deleted.ID); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		s.clock.Advance(10 * time.Minute)
		s.rt.RunDue(ctx)
	}
	s.awaitRuns(keep.ID, 1)
	if calls, _ := s.exec.total(); calls != 1 {
		t.Fatalf("%d occurrences executed, want only the kept task's", calls)
	}
	if _, n, _ := s.store.Runs(ctx, cancelled.ID, 0, 10); n != 0 {
		t.Fatalf("cancelled task has %d runs", n)
	}
}

func TestCatchUpRunsOnceAndSkipsTheRest(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"cron":"@every 1h"`)
	s.clock.Advance(5*time.Hour + 30*time.Minute) // "down" through five slots
	s.rt.RunDue(context.Background())
	runs := s.awaitRuns(task.ID, 5)
	for i, r := range runs {
		slot := t0.Add(time.Duration(i+1) * time.Hour)
		if !r.ScheduledAt.Equal(slot) {
			t.Fatalf("run %d scheduled at %s, want %s", i, r.ScheduledAt, slot)
		}
		want := alice.OutcomeSkipped
		if i == 4 {
			want = alice.OutcomeSucceeded
		}
		if r.Outcome != want || (want == alice.OutcomeSkipped && r.Error == "") {
			t.Fatalf("run %d = %+v, want %s with a reason", i, r, want)
		}
	}
	if got := s.taskNow(task.ID); !got.NextRunAt.Equal(t0.Add(6*time.Hour)) || got.RunCount != 1 {
		t.Fatalf("task = %+v", got)
	}
}

func TestDuplicateDeliveriesAreIgnored(t *testing.T) {
	s := newSched(t, Config{})
	s.exec.gate = make(chan struct{})
	ctx := context.Background()
	task := s.create(1, `,"run_at":"2025-03-07T17:01:00Z"`)
	s.clock.Advance(time.Minute)
	s.rt.RunDue(ctx)
	due := timerDue{taskID: task.ID, at: t0.Add(time.Minute)}
	if v, err := s.rt.request(ctx, chatKey(1), due); err != nil || v != dueRunning {
		t.Fatalf("second delivery while running = %v, %v; want running", v, err)
	}
	s.rt.RunDue(ctx) // the timer service itself does not deliver again
	close(s.exec.gate)
	s.awaitRuns(task.ID, 1)
	if v, err := s.rt.request(ctx, chatKey(1), due); err != nil || v != dueStale {
		t.Fatalf("delivery after the run = %v, %v; want stale", v, err)
	}
	if calls, _ := s.exec.total(); calls != 1 {
		t.Fatalf("executed %d times, want once", calls)
	}
}

// interrupted stops a runtime while an occurrence runs (as a crash would
// leave it: the occurrence in flight in the store) and returns a fresh
// runtime on the same store, the task, and what the first runtime executed.
// The new runtime starts with its clock before the slot, so its timer loop
// does not resume the occurrence until the caller calls resumeAt.
func interrupted(t *testing.T) (*sched, alice.Task, *recorder) {
	t.Helper()
	dir := t.TempDir()
	clock := fakeclock.New(t0)
	policies := map[string]BotPolicy{"main": {Rules: alice.TaskRules{Zone: time.UTC}, CatchUpWindow: time.Hour}}
	store1, err := badgerstore.Open(dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	stuck := newRecorder()
	stuck.gate = make(chan struct{}) // never opened
	rt1, err := New(Config{Store: store1, Clock: clock, Executor: stuck, Policies: policies, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	s1 := &sched{t: t, clock: clock, store: store1, rt: rt1, exec: stuck}
	task := s1.create(1, `,"run_at":"2025-03-07T17:01:00Z"`)
	clock.Advance(time.Minute)
	rt1.RunDue(context.Background())
	for calls, _ := stuck.total(); calls == 0; calls, _ = stuck.total() {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	rt1.Shutdown(ctx) // the stuck occurrence is abandoned
	cancel()
	store1.Close()

	clock.Set(t0)
	s2 := &sched{t: t, clock: clock, exec: newRecorder()}
	s2.store = openStore(t, dir)
	s2.rt = startRuntime(t, Config{Store: s2.store, Clock: clock, Executor: s2.exec, Policies: policies})
	return s2, task, stuck
}

// resumeAt moves the clock past the interrupted slot and delivers it.
func (s *sched) resumeAt() {
	s.clock.Set(t0.Add(time.Minute + time.Second))
	s.rt.RunDue(context.Background())
}

// TestInterruptedOccurrenceResumesWithTheSameID expects the next runtime to
// run an interrupted occurrence again under the same occurrence id and
// record it once.
func TestInterruptedOccurrenceResumesWithTheSameID(t *testing.T) {
	s2, task, stuck := interrupted(t)
	s2.resumeAt()
	runs := s2.awaitRuns(task.ID, 1)
	stuck.mu.Lock()
	first := fmt.Sprint(stuck.calls)
	stuck.mu.Unlock()
	s2.exec.mu.Lock()
	second := fmt.Sprint(s2.exec.calls)
	s2.exec.mu.Unlock()
	if first != second || first != fmt.Sprintf("map[%s:1]", runs[0].OccurrenceID) {
		t.Fatalf("first runtime ran %s, second %s; want the same single occurrence %s", first, second, runs[0].OccurrenceID)
	}
	if runs[0].Outcome != alice.OutcomeSucceeded || !runs[0].StartedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("run = %+v; want the original start time", runs[0])
	}
}

// TestInterruptedThenCancelledIsNotResumed cancels the task after the
// restart: its interrupted occurrence must not run again.
func TestInterruptedThenCancelledIsNotResumed(t *testing.T) {
	s2, task, _ := interrupted(t)
	var patch alice.TaskInput
	json.Unmarshal([]byte(`{"status":"cancelled"}`), &patch)
	if _, err := PatchTask(context.Background(), s2.rt, chatKey(1), task.ID, patch); err != nil {
		t.Fatal(err)
	}
	s2.resumeAt()
	runs := s2.awaitRuns(task.ID, 1)
	if runs[0].Outcome != alice.OutcomeSkipped {
		t.Fatalf("run = %+v, want skipped", runs[0])
	}
	if calls, _ := s2.exec.total(); calls != 0 {
		t.Fatalf("the cancelled task's occurrence ran %d times after the restart", calls)
	}
}

// TestTimerWakesEarlyForAnEarlierDueTime uses the real clock: the loop
// sleeps until the earliest due time it knows (an hour away), so a task due
// in a moment runs only if writing it wakes the loop.
func TestTimerWakesEarlyForAnEarlierDueTime(t *testing.T) {
	store := openStore(t, t.TempDir())
	exec := newRecorder()
	rt := startRuntime(t, Config{Store: store, Executor: exec, Policies: map[string]BotPolicy{"main": {Rules: alice.TaskRules{Zone: time.UTC}, CatchUpWindow: time.Hour}}})
	s := &sched{t: t, store: store, rt: rt, exec: exec}
	s.create(1, fmt.Sprintf(`,"run_at":%q`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
	soon := s.create(2, fmt.Sprintf(`,"run_at":%q`, time.Now().Add(300*time.Millisecond).UTC().Format(time.RFC3339Nano)))
	runs := s.awaitRuns(soon.ID, 1)
	if runs[0].StartedAt.Before(*soon.NextRunAt) {
		t.Fatalf("started at %s, before its time %s", runs[0].StartedAt, soon.NextRunAt)
	}
}

// TestCancelWhileQueuedIsSkipped fills the only worker, queues a second
// occurrence behind it, cancels that task, and expects the queued occurrence
// never to run and to be recorded as skipped.
func TestCancelWhileQueuedIsSkipped(t *testing.T) {
	s := newSched(t, Config{Workers: 1, Queue: 1})
	s.exec.gate = make(chan struct{})
	ctx := context.Background()
	busy := s.create(1, `,"run_at":"2025-03-07T17:01:00Z"`)
	queued := s.create(2, `,"run_at":"2025-03-07T17:01:00Z"`)
	s.clock.Advance(time.Minute)
	s.rt.RunDue(ctx)
	var patch alice.TaskInput
	json.Unmarshal([]byte(`{"status":"cancelled"}`), &patch)
	// Whichever task took the worker, cancel the other one.
	s.exec.mu.Lock()
	running := len(s.exec.calls)
	_, busyRan := s.exec.calls[alice.OccurrenceID(busy.ID, t0.Add(time.Minute))]
	s.exec.mu.Unlock()
	if running != 1 {
		t.Fatalf("%d occurrences running on one worker", running)
	}
	victim, victimConv, other := queued, 2, busy
	if !busyRan {
		victim, victimConv, other = busy, 1, queued
	}
	if _, err := PatchTask(ctx, s.rt, chatKey(victimConv), victim.ID, patch); err != nil {
		t.Fatal(err)
	}
	close(s.exec.gate)
	s.awaitRuns(other.ID, 1)
	runs := s.awaitRuns(victim.ID, 1)
	if runs[0].Outcome != alice.OutcomeSkipped || runs[0].StartedAt != nil {
		t.Fatalf("cancelled queued occurrence recorded as %+v, want skipped and never started", runs[0])
	}
	if calls, _ := s.exec.total(); calls != 1 {
		t.Fatalf("%d occurrences executed, want only the one that held the worker", calls)
	}
	if got := s.taskNow(victim.ID); got.Status != alice.TaskCancelled || got.RunCount != 0 {
		t.Fatalf("cancelled task = %+v", got)
	}
}
