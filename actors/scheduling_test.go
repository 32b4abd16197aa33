package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/await"
	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/messenger"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

// recorder is an Executor standing in for an LLM: it counts calls per
// occurrence, keeps the last execution, and sends "reply to <prompt>".
// With a gate, every call waits for the gate (or its context) before
// sending; with fail set, a call fails with it after one attempt.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	last  Execution
	gate  chan struct{}
	fail  error
	// stopped counts the calls whose context ended while they waited.
	stopped int
	// turns are the goal turns asked for; turn, when set, plays the agent.
	turns []GoalIteration
	turn  func(ctx context.Context, x GoalIteration) (string, error)
}

func newRecorder() *recorder { return &recorder{calls: map[string]int{}} }

func (r *recorder) Execute(ctx context.Context, x Execution) (Report, error) {
	r.mu.Lock()
	r.calls[x.Occurrence.ID]++
	r.last = x
	fail := r.fail
	r.mu.Unlock()
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			r.mu.Lock()
			r.stopped++
			r.mu.Unlock()
			return Report{}, ctx.Err()
		}
	}
	if fail != nil {
		return Report{Attempts: []alice.Attempt{{StartedAt: x.Occurrence.StartedAt, Status: "exit 1", Error: fail.Error()}}}, fail
	}
	id, err := x.Send(ctx, alice.Outgoing{Kind: alice.KindText, Text: "reply to " + x.Task.Prompt}, "")
	return Report{MessageID: id, Attempts: []alice.Attempt{{StartedAt: x.Occurrence.StartedAt}}}, err
}

// Iterate runs a goal turn: turn, when set, says what the agent does (and
// may act on the goal meanwhile); else it replies "turn N".
func (r *recorder) Iterate(ctx context.Context, x GoalIteration) (Report, error) {
	r.mu.Lock()
	r.turns = append(r.turns, x)
	turn := r.turn
	r.mu.Unlock()
	reply := fmt.Sprintf("turn %d", x.Goal.Iterations+1)
	var err error
	if turn != nil {
		reply, err = turn(ctx, x)
	}
	if err != nil {
		return Report{Attempts: []alice.Attempt{{StartedAt: x.Now, Status: "exit 1", Error: err.Error()}}}, err
	}
	id, err := x.Send(ctx, alice.Outgoing{Kind: alice.KindText, Text: reply}, "")
	return Report{MessageID: id}, err
}

func (r *recorder) goalTurns() []GoalIteration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]GoalIteration(nil), r.turns...)
}

func (r *recorder) failWith(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

func (r *recorder) lastExecution() Execution {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
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
	svc   *Service
	exec  *recorder
}

var t0 = time.Date(2025, 3, 7, 17, 0, 0, 0, time.UTC)

func mainBot() BotConfig {
	return BotConfig{Rules: alice.TaskRules{Zone: time.UTC, HasLLM: true}, CatchUpWindow: time.Hour}
}

func newSched(t *testing.T, cfg Config) *sched {
	t.Helper()
	s := &sched{t: t, clock: fakeclock.New(t0), exec: newRecorder()}
	s.store = openStore(t, t.TempDir())
	cfg.Store, cfg.Clock, cfg.Executor = s.store, s.clock, s.exec
	if cfg.Bots == nil {
		cfg.Bots = map[string]BotConfig{"main": mainBot()}
	}
	s.rt = startRuntime(t, cfg)
	s.svc = s.rt.Bot("main")
	return s
}

// create makes a task in conversation oc_<conv>; body adds fields to a
// send_text task, or replaces the action's fields when it names one.
func (s *sched) create(conv int, body string) alice.Task {
	s.t.Helper()
	fields := `"action":"send_text","text":"hi"`
	if strings.Contains(body, `"action"`) {
		fields = strings.TrimPrefix(body, ",")
		body = ""
	}
	full := fmt.Sprintf(`{"scope_type":"chat","scope_id":"oc_%d",%s%s}`, conv, fields, body)
	var in alice.TaskInput
	if err := json.Unmarshal([]byte(full), &in); err != nil {
		s.t.Fatal(err)
	}
	task, err := s.svc.CreateTask(bg, alice.TaskCreate{Input: in})
	if err != nil {
		s.t.Fatalf("create %s: %v", full, err)
	}
	return *task
}

func (s *sched) patch(id, body string) (*alice.Task, error) {
	var in alice.TaskInput
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		s.t.Fatal(err)
	}
	return s.svc.PatchTask(bg, id, in)
}

// awaitRuns waits until task id has n recorded runs and returns them.
func (s *sched) awaitRuns(id string, n int) []alice.Run {
	s.t.Helper()
	var runs []alice.Run
	var total int
	await.Until(s.t, 10*time.Second, fmt.Sprintf("task %s to have %d runs", id, n), func() bool {
		var err error
		runs, total, err = s.svc.TaskRuns(bg, id, alice.Page{Limit: 200})
		if err != nil {
			s.t.Fatal(err)
		}
		if total > n {
			s.t.Fatalf("task %s has %d runs, want %d: %+v", id, total, n, runs)
		}
		return total == n
	})
	return runs
}

func (s *sched) task(id string) alice.Task {
	s.t.Helper()
	task, err := s.svc.GetTask(bg, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return *task
}

func (s *sched) messages(conv int) []alice.Message {
	s.t.Helper()
	items, _, err := s.svc.ListMessages(bg, chatConv(conv), alice.Page{Limit: 200})
	if err != nil {
		s.t.Fatal(err)
	}
	return items
}

func (s *sched) at(d time.Duration) {
	s.clock.Set(t0.Add(d))
	s.rt.RunDue(bg)
}

func TestOneShotRunsOnceAtItsTime(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"run_at":"2025-03-07T18:00:00Z"`)
	s.at(59 * time.Minute)
	if _, n, _ := s.svc.TaskRuns(bg, task.ID, alice.Page{Limit: 10}); n != 0 {
		t.Fatalf("ran %d times a minute early", n)
	}
	s.at(time.Hour)
	runs := s.awaitRuns(task.ID, 1)
	r := runs[0]
	msgs := s.messages(1)
	if r.Outcome != alice.OutcomeSucceeded || !r.ScheduledAt.Equal(t0.Add(time.Hour)) || !r.StartedAt.Equal(t0.Add(time.Hour)) ||
		len(msgs) != 1 || r.MessageID != msgs[0].ID || msgs[0].Text != "hi" {
		t.Fatalf("run = %+v, outbox = %+v", r, msgs)
	}
	got := s.task(task.ID)
	if got.Status != alice.TaskCompleted || got.RunCount != 1 || got.NextRunAt != nil || got.LastRunAt == nil || got.LastError != "" {
		t.Fatalf("task after its run = %+v", got)
	}
	s.at(2 * time.Hour)
	if _, n, _ := s.svc.TaskRuns(bg, task.ID, alice.Page{Limit: 10}); n != 1 || len(s.messages(1)) != 1 {
		t.Fatalf("%d runs and %d messages; want one of each", n, len(s.messages(1)))
	}
}

// TestOneCommitPerOccurrence counts the store's acknowledged writes: with the
// local outbox, an occurrence (its message, its run, the task's next slot)
// is one commit, whether it runs inline (send_text) or on a worker
// (run_llm).
func TestOneCommitPerOccurrence(t *testing.T) {
	s := newSched(t, Config{})
	text := s.create(1, `,"cron":"@every 1h"`)
	llm := s.create(2, `,"action":"run_llm","prompt":"p","cron":"@every 1h"`)
	before := s.store.Stats().Writes
	s.at(time.Hour)
	s.awaitRuns(text.ID, 1)
	s.awaitRuns(llm.ID, 1)
	if n := s.store.Stats().Writes - before; n != 2 {
		t.Fatalf("two occurrences took %d commits, want 2", n)
	}
	if m := s.messages(2); len(m) != 1 || m[0].Text != "reply to p" {
		t.Fatalf("run_llm outbox = %+v", m)
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
		s.rt.RunDue(bg)
		runs := s.awaitRuns(task.ID, i+1)
		if got := runs[i].ScheduledAt.In(ny).Format(time.RFC3339); got != w {
			t.Fatalf("run %d scheduled at %s, want %s", i, got, w)
		}
	}
	if got := s.task(task.ID); got.Status != alice.TaskActive || got.RunCount != 3 || got.NextRunAt.In(ny).Format(time.RFC3339) != "2025-03-11T09:00:00-04:00" {
		t.Fatalf("task = %+v", got)
	}
}

func TestEveryRunsEachPeriod(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"cron":"@every 1h"`)
	for i := 1; i <= 3; i++ {
		s.at(time.Duration(i) * time.Hour)
		runs := s.awaitRuns(task.ID, i)
		if !runs[i-1].ScheduledAt.Equal(t0.Add(time.Duration(i) * time.Hour)) {
			t.Fatalf("run %d scheduled at %s", i, runs[i-1].ScheduledAt)
		}
	}
}

func TestManyDueAtOnceAllFireOnce(t *testing.T) {
	const conversations, perConversation = 100, 5
	s := newSched(t, Config{Bots: map[string]BotConfig{"main": {Rules: alice.TaskRules{Zone: time.UTC, HasLLM: true}, Agents: 16}}})
	var ids []string
	for c := 0; c < conversations; c++ {
		for i := 0; i < perConversation; i++ {
			body := `,"run_at":"2025-03-07T17:30:00Z"`
			if i%2 == 1 {
				body = fmt.Sprintf(`,"action":"run_llm","prompt":"p%d","run_at":"2025-03-07T17:30:00Z"`, i)
			}
			ids = append(ids, s.create(c, body).ID)
		}
	}
	s.at(30 * time.Minute)
	for _, id := range ids {
		s.awaitRuns(id, 1)
	}
	s.at(31 * time.Minute)
	if calls, occurrences := s.exec.total(); calls != conversations*2 || occurrences != conversations*2 {
		t.Fatalf("%d LLM calls for %d occurrences, want %d each", calls, occurrences, conversations*2)
	}
	for c := 0; c < conversations; c++ {
		if n := len(s.messages(c)); n != perConversation {
			t.Fatalf("conversation %d has %d messages, want %d", c, n, perConversation)
		}
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
	await.Until(t, 10*time.Second, "every conversation to passivate", func() bool { return life.passivated.Load() >= 10 })
	s.at(5 * time.Minute)
	for c, id := range ids {
		s.awaitRuns(id, 1)
		if life.activationsOf(chatKey(c)) < 2 {
			t.Fatalf("conversation %d ran its task without being re-activated", c)
		}
	}
}

func TestCancelledAndDeletedTasksNeverFire(t *testing.T) {
	s := newSched(t, Config{})
	keep := s.create(1, `,"run_at":"2025-03-07T17:10:00Z"`)
	cancelled := s.create(1, `,"run_at":"2025-03-07T17:10:00Z"`)
	deleted := s.create(2, `,"cron":"@every 5m"`)
	if _, err := s.patch(cancelled.ID, `{"status":"cancelled"}`); err != nil {
		t.Fatal(err)
	}
	if err := s.svc.DeleteTask(bg, deleted.ID); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		s.at(time.Duration(i) * 10 * time.Minute)
	}
	s.awaitRuns(keep.ID, 1)
	if _, n, _ := s.svc.TaskRuns(bg, cancelled.ID, alice.Page{Limit: 10}); n != 0 {
		t.Fatalf("cancelled task has %d runs", n)
	}
	if _, err := s.svc.GetTask(bg, deleted.ID); alice.ErrorCode(err) != alice.ENotFound {
		t.Fatalf("deleted task: %v", err)
	}
	if n := len(s.messages(1)) + len(s.messages(2)); n != 1 {
		t.Fatalf("%d messages sent, want only the kept task's", n)
	}
}

func TestCatchUpRunsOnceAndSkipsTheRest(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"cron":"@every 1h"`)
	s.at(5*time.Hour + 30*time.Minute) // "down" through five slots
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
	if got := s.task(task.ID); !got.NextRunAt.Equal(t0.Add(6*time.Hour)) || got.RunCount != 1 {
		t.Fatalf("task = %+v", got)
	}
}

func TestDuplicateDeliveriesAreIgnored(t *testing.T) {
	s := newSched(t, Config{})
	s.exec.gate = make(chan struct{})
	task := s.create(1, `,"action":"run_llm","prompt":"p","run_at":"2025-03-07T17:01:00Z"`)
	s.at(time.Minute)
	due := taskDue{id: task.ID, at: t0.Add(time.Minute)}
	if v, err := s.rt.internal(bg, chatKey(1), due); err != nil || v != dueRunning {
		t.Fatalf("second delivery while running = %v, %v; want running", v, err)
	}
	s.rt.RunDue(bg) // the timer service itself does not deliver again
	close(s.exec.gate)
	s.awaitRuns(task.ID, 1)
	if v, err := s.rt.internal(bg, chatKey(1), due); err != nil || v != dueStale {
		t.Fatalf("delivery after the run = %v, %v; want stale", v, err)
	}
	if calls, _ := s.exec.total(); calls != 1 {
		t.Fatalf("executed %d times, want once", calls)
	}
}

// interrupted stops a runtime while an occurrence runs, as a crash would:
// nothing about it is committed. It returns a fresh runtime on the same
// store, with its clock before the slot, the task, and what the first
// runtime executed.
func interrupted(t *testing.T) (*sched, alice.Task, *recorder) {
	t.Helper()
	dir := t.TempDir()
	clock := fakeclock.New(t0)
	bots := map[string]BotConfig{"main": mainBot()}
	store1, err := badgerstore.Open(dir, badgerstore.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	stuck := newRecorder()
	stuck.gate = make(chan struct{}) // never opened
	rt1, err := New(Config{Store: store1, Clock: clock, Executor: stuck, Bots: bots, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	s1 := &sched{t: t, clock: clock, store: store1, rt: rt1, svc: rt1.Bot("main"), exec: stuck}
	task := s1.create(1, `,"action":"run_llm","prompt":"p","run_at":"2025-03-07T17:01:00Z"`)
	s1.at(time.Minute)
	await.Until(t, 10*time.Second, "the first occurrence to start", func() bool { calls, _ := stuck.total(); return calls == 1 })
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	rt1.Shutdown(ctx) // the stuck occurrence is abandoned
	cancel()
	store1.Close()

	clock.Set(t0)
	s2 := &sched{t: t, clock: clock, exec: newRecorder()}
	s2.store = openStore(t, dir)
	s2.rt = startRuntime(t, Config{Store: s2.store, Clock: clock, Executor: s2.exec, Bots: bots})
	s2.svc = s2.rt.Bot("main")
	return s2, task, stuck
}

// TestInterruptedOccurrenceRunsAgainWithTheSameID expects the next runtime
// to run an interrupted occurrence again under the same occurrence id and
// record it once.
func TestInterruptedOccurrenceRunsAgainWithTheSameID(t *testing.T) {
	s2, task, stuck := interrupted(t)
	if _, n, _ := s2.svc.TaskRuns(bg, task.ID, alice.Page{Limit: 10}); n != 0 {
		t.Fatalf("the interrupted occurrence left %d runs", n)
	}
	s2.at(time.Minute + time.Second)
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
	if runs[0].Outcome != alice.OutcomeSucceeded {
		t.Fatalf("run = %+v", runs[0])
	}
}

// TestInterruptedThenCancelledDoesNotRun cancels the task after the
// restart: its interrupted occurrence must not run again.
func TestInterruptedThenCancelledDoesNotRun(t *testing.T) {
	s2, task, _ := interrupted(t)
	if _, err := s2.patch(task.ID, `{"status":"cancelled"}`); err != nil {
		t.Fatal(err)
	}
	s2.at(time.Minute + time.Second)
	if calls, _ := s2.exec.total(); calls != 0 {
		t.Fatalf("the cancelled task's occurrence ran %d times after the restart", calls)
	}
	if _, n, _ := s2.svc.TaskRuns(bg, task.ID, alice.Page{Limit: 10}); n != 0 {
		t.Fatalf("%d runs recorded for an occurrence that never finished", n)
	}
}

// TestTimerWakesEarlyForAnEarlierDueTime uses the real clock: the loop
// sleeps until the earliest due time it knows (an hour away), so a task due
// in a moment runs only if writing it wakes the loop.
func TestTimerWakesEarlyForAnEarlierDueTime(t *testing.T) {
	store := openStore(t, t.TempDir())
	rt := startRuntime(t, Config{Store: store, Bots: map[string]BotConfig{"main": mainBot()}})
	s := &sched{t: t, store: store, rt: rt, svc: rt.Bot("main")}
	s.create(1, fmt.Sprintf(`,"run_at":%q`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
	soon := s.create(2, fmt.Sprintf(`,"run_at":%q`, time.Now().Add(300*time.Millisecond).UTC().Format(time.RFC3339Nano)))
	runs := s.awaitRuns(soon.ID, 1)
	if runs[0].StartedAt.Before(*soon.NextRunAt) {
		t.Fatalf("started at %s, before its time %s", runs[0].StartedAt, soon.NextRunAt)
	}
}

// TestCancelWhileQueuedIsSkipped fills the bot's only agent, queues a
// second occurrence behind it, cancels that task, and expects the queued
// occurrence never to run and to be recorded as skipped.
func TestCancelWhileQueuedIsSkipped(t *testing.T) {
	bot := mainBot()
	bot.Agents, bot.AgentQueue = 1, 1
	s := newSched(t, Config{Bots: map[string]BotConfig{"main": bot}})
	s.exec.gate = make(chan struct{})
	busy := s.create(1, `,"action":"run_llm","prompt":"p","run_at":"2025-03-07T17:01:00Z"`)
	queued := s.create(2, `,"action":"run_llm","prompt":"p","run_at":"2025-03-07T17:01:00Z"`)
	s.at(time.Minute)
	await.Until(t, 10*time.Second, "one occurrence to take the agent", func() bool { calls, _ := s.exec.total(); return calls == 1 })
	s.exec.mu.Lock()
	_, busyRan := s.exec.calls[alice.OccurrenceID(busy.ID, t0.Add(time.Minute))]
	s.exec.mu.Unlock()
	victim, other := queued, busy
	if !busyRan {
		victim, other = busy, queued
	}
	if _, err := s.patch(victim.ID, `{"status":"cancelled"}`); err != nil {
		t.Fatal(err)
	}
	close(s.exec.gate)
	s.awaitRuns(other.ID, 1)
	runs := s.awaitRuns(victim.ID, 1)
	if runs[0].Outcome != alice.OutcomeSkipped || runs[0].StartedAt != nil {
		t.Fatalf("cancelled queued occurrence recorded as %+v, want skipped and never started", runs[0])
	}
	if calls, _ := s.exec.total(); calls != 1 {
		t.Fatalf("%d occurrences executed, want only the one that held the agent", calls)
	}
	if got := s.task(victim.ID); got.Status != alice.TaskCancelled || got.RunCount != 0 {
		t.Fatalf("cancelled task = %+v", got)
	}
}

// TestPausedTaskSkipsItsSlots pauses an hourly task through three of its
// slots: none runs or is caught up, and resuming plans from now.
func TestPausedTaskSkipsItsSlots(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"cron":"@every 1h"`)
	if got, err := s.patch(task.ID, `{"status":"paused"}`); err != nil || got.Status != alice.TaskPaused || got.NextRunAt != nil {
		t.Fatalf("pause = %+v, %v", got, err)
	}
	s.at(3*time.Hour + 10*time.Minute)
	if _, n, _ := s.svc.TaskRuns(bg, task.ID, alice.Page{Limit: 10}); n != 0 {
		t.Fatalf("paused task has %d runs", n)
	}
	resumed, err := s.patch(task.ID, `{"status":"active"}`)
	if err != nil || !resumed.NextRunAt.Equal(t0.Add(4*time.Hour+10*time.Minute)) {
		t.Fatalf("resume = %+v, %v; want the next run an hour from now", resumed, err)
	}
	s.at(4*time.Hour + 10*time.Minute)
	if runs := s.awaitRuns(task.ID, 1); runs[0].Outcome != alice.OutcomeSucceeded {
		t.Fatalf("after resuming: %+v", runs)
	}
}

func TestMaxRunsCompletesTheTask(t *testing.T) {
	s := newSched(t, Config{})
	task := s.create(1, `,"cron":"@every 1h","max_runs":2`)
	for i := 1; i <= 3; i++ {
		s.at(time.Duration(i) * time.Hour)
	}
	s.awaitRuns(task.ID, 2)
	if got := s.task(task.ID); got.Status != alice.TaskCompleted || got.RunCount != 2 || got.NextRunAt != nil {
		t.Fatalf("task = %+v; want completed after 2 runs", got)
	}
}

func TestPlaceholdersAreFilledInTheTasksZone(t *testing.T) {
	s := newSched(t, Config{})
	s.create(1, `,"action":"send_text","text":"{{date}} {{time}} {{now}} {{unix}} {{other}}","timezone":"Asia/Shanghai","run_at":"2025-03-07T17:01:00Z"`)
	s.at(time.Minute)
	await.Until(t, 10*time.Second, "the message", func() bool { return len(s.messages(1)) == 1 })
	want := fmt.Sprintf("2025-03-08 01:01:00 2025-03-08T01:01:00+08:00 %d {{other}}", t0.Add(time.Minute).Unix())
	if got := s.messages(1)[0].Text; got != want {
		t.Fatalf("text = %q, want %q", got, want)
	}
}

// TestFinishedTasksGoAfterTheirRetention: a completed task stays readable
// with its runs for the bot's retention, then is removed with them.
func TestFinishedTasksGoAfterTheirRetention(t *testing.T) {
	bot := mainBot()
	bot.TaskRetention = 24 * time.Hour
	s := newSched(t, Config{Bots: map[string]BotConfig{"main": bot}})
	task := s.create(1, `,"run_at":"2025-03-07T17:01:00Z"`)
	s.at(time.Minute)
	s.awaitRuns(task.ID, 1)
	s.at(24 * time.Hour)
	if got := s.task(task.ID); got.Status != alice.TaskCompleted {
		t.Fatalf("before the end of retention: %+v", got)
	}
	s.at(24*time.Hour + time.Minute)
	if _, err := s.svc.GetTask(bg, task.ID); alice.ErrorCode(err) != alice.ENotFound {
		t.Fatalf("after its retention the task is %v, want gone", err)
	}
	if _, total, _ := s.svc.ListTasks(bg, alice.TaskFilter{}, alice.Page{Limit: 10}); total != 0 {
		t.Fatalf("%d tasks listed after retention", total)
	}
}

// TestFinishedTasksDoNotCountTowardTheCap sends more one-shot texts than the
// per-conversation cap of live tasks: each completes, so the next is
// accepted, and only the newest finished ones are kept.
func TestFinishedTasksDoNotCountTowardTheCap(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,600 tasks")
	}
	s := newSched(t, Config{Bots: map[string]BotConfig{"main": func() BotConfig { b := mainBot(); b.Outbox.MaxMessages = 10; return b }()}})
	const n = alice.MaxFinishedTasksPerConversation + 600
	var last alice.Task
	for i := 0; i < n; i++ {
		last = s.create(1, "") // no schedule: runs at once
		if i%100 == 99 {
			s.rt.RunDue(bg)
		}
	}
	s.rt.RunDue(bg)
	// The timer loop may hold some deliveries of its own; wait for all.
	await.Until(t, 10*time.Second, "every task to have run", func() bool {
		_, live, err := s.svc.ListTasks(bg, alice.TaskFilter{Status: alice.TaskActive}, alice.Page{Limit: 1})
		return err == nil && live == 0
	})
	_, total, err := s.svc.ListTasks(bg, alice.TaskFilter{ScopeType: alice.ScopeChat, ScopeID: "oc_1"}, alice.Page{Limit: 1})
	if err != nil || total != alice.MaxFinishedTasksPerConversation {
		t.Fatalf("conversation keeps %d tasks (%v), want the newest %d", total, err, alice.MaxFinishedTasksPerConversation)
	}
	if _, err := s.svc.GetTask(bg, last.ID); err != nil {
		t.Fatalf("the newest task: %v", err)
	}
}

func TestOutboxDropsMessagesPastTheAgeLimit(t *testing.T) {
	bot := mainBot()
	bot.Outbox.MaxAge = time.Hour
	s := newSched(t, Config{Bots: map[string]BotConfig{"main": bot}})
	send := func(text string) {
		if _, err := s.svc.SendMessage(bg, chatConv(1), alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindText, Text: text}}); err != nil {
			t.Fatal(err)
		}
	}
	send("old")
	s.clock.Set(t0.Add(30 * time.Minute))
	send("newer")
	s.at(time.Hour + time.Minute)
	await.Until(t, 10*time.Second, "the old message to go", func() bool { return len(s.messages(1)) == 1 })
	if m := s.messages(1); m[0].Text != "newer" {
		t.Fatalf("outbox = %+v", m)
	}
	s.at(2 * time.Hour)
	await.Until(t, 10*time.Second, "the newer message to go", func() bool { return len(s.messages(1)) == 0 })
}

func TestIdempotencyKeys(t *testing.T) {
	s := newSched(t, Config{})
	send := func(conv int, text, key string) (string, error) {
		return s.svc.SendMessage(bg, chatConv(conv), alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindText, Text: text}, IdempotencyKey: key})
	}
	a, err := send(1, "hello", "k-1")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := send(1, "hello", "k-1"); err != nil || again != a {
		t.Fatalf("retry = %q, %v; want the first answer %q", again, err, a)
	}
	if _, err := send(1, "different", "k-1"); alice.ErrorCode(err) != alice.EKeyReused || !strings.Contains(err.Error(), `"k-1"`) {
		t.Fatalf("reuse for a different request: %v, want key_reused naming the key", err)
	}
	// Keys belong to their conversation: the same key elsewhere is new.
	b, err := send(2, "hello", "k-1")
	if err != nil || b == a {
		t.Fatalf("same key in another conversation = %q, %v; want a message of its own", b, err)
	}
	if n1, n2 := len(s.messages(1)), len(s.messages(2)); n1 != 1 || n2 != 1 {
		t.Fatalf("outboxes hold %d and %d messages, want 1 each", n1, n2)
	}
	// A key shaped like an occurrence id is just a key: it cannot touch a
	// task's occurrence.
	task := s.create(1, `,"run_at":"2025-03-07T17:01:00Z"`)
	occ := alice.OccurrenceID(task.ID, t0.Add(time.Minute))
	if _, err := send(2, "hijack", occ); err != nil {
		t.Fatal(err)
	}
	s.at(time.Minute)
	if runs := s.awaitRuns(task.ID, 1); runs[0].Outcome != alice.OutcomeSucceeded || len(s.messages(1)) != 2 {
		t.Fatalf("the task's occurrence: %+v; conversation 1 has %d messages, want 2", runs, len(s.messages(1)))
	}

	g1, err := s.svc.CreateGoal(bg, chatConv(3), alice.GoalCreate{Description: "g", IdempotencyKey: "g-1"})
	if err != nil {
		t.Fatal(err)
	}
	if g2, err := s.svc.CreateGoal(bg, chatConv(3), alice.GoalCreate{Description: "g", IdempotencyKey: "g-1"}); err != nil || g2.ID != g1.ID {
		t.Fatalf("goal retry = %+v, %v; want %s again, not a conflict", g2, err, g1.ID)
	}
	in := alice.TaskInput{ScopeType: alice.Value("chat"), ScopeID: alice.Value("oc_3"), Action: alice.Value("send_text"), Text: alice.Value("t"), RunAt: alice.Value("2099-01-01T00:00:00Z")}
	t1, err := s.svc.CreateTask(bg, alice.TaskCreate{Input: in, IdempotencyKey: "t-1"})
	if err != nil {
		t.Fatal(err)
	}
	if t2, err := s.svc.CreateTask(bg, alice.TaskCreate{Input: in, IdempotencyKey: "t-1"}); err != nil || t2.ID != t1.ID {
		t.Fatalf("task retry = %+v, %v; want %s again", t2, err, t1.ID)
	}
	if _, total, _ := s.svc.ListTasks(bg, alice.TaskFilter{ScopeType: alice.ScopeChat, ScopeID: "oc_3"}, alice.Page{Limit: 10}); total != 1 {
		t.Fatalf("%d tasks after a retried create, want 1", total)
	}
}

// platform is a Messenger that records what it is asked to send and honours
// dedupe keys, as Feishu does.
type platform struct {
	mu    sync.Mutex
	sent  []string            // texts, in order
	byKey map[string]string   // dedupe key → message id
	keys  map[string][]string // text → dedupe keys used
}

func (p *platform) Send(_ context.Context, to messenger.Target, m alice.Outgoing, key string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.byKey[key]; ok && key != "" {
		return id, nil
	}
	id := fmt.Sprintf("om_p%d", len(p.sent))
	p.sent = append(p.sent, m.Text)
	p.byKey[key] = id
	p.keys[m.Text] = append(p.keys[m.Text], key)
	return id, nil
}

func TestSendsThroughAPlatform(t *testing.T) {
	p := &platform{byKey: map[string]string{}, keys: map[string][]string{}}
	bot := mainBot()
	bot.Messenger = p
	s := newSched(t, Config{Bots: map[string]BotConfig{"main": bot}})
	task := s.create(1, `,"run_at":"2025-03-07T17:01:00Z"`)
	llm := s.create(1, `,"action":"run_llm","prompt":"p","run_at":"2025-03-07T17:01:00Z"`)
	s.at(time.Minute)
	r1, r2 := s.awaitRuns(task.ID, 1), s.awaitRuns(llm.ID, 1)
	if r1[0].MessageID == "" || r2[0].MessageID == "" || r1[0].Outcome != alice.OutcomeSucceeded {
		t.Fatalf("runs = %+v %+v", r1, r2)
	}
	id, err := s.svc.SendMessage(bg, chatConv(1), alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindText, Text: "by request"}, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.svc.SendMessage(bg, chatConv(1), alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindText, Text: "by request"}, IdempotencyKey: "k"}); err != nil || again != id {
		t.Fatalf("retry = %q %v, want %q", again, err, id)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sent) != 3 {
		t.Fatalf("platform got %v, want the task's text, the LLM's reply and the request's text once each", p.sent)
	}
	occKey, reqKey := p.keys["hi"][0], p.keys["by request"][0]
	if !strings.HasPrefix(occKey, "occurrence/"+r1[0].OccurrenceID) || !strings.HasPrefix(reqKey, "request/") {
		t.Fatalf("dedupe keys %q and %q: occurrence and request keys must live apart", occKey, reqKey)
	}
	if _, _, err := s.svc.ListMessages(bg, chatConv(1), alice.Page{Limit: 1}); alice.ErrorCode(err) != alice.ENotFound {
		t.Fatalf("listing the outbox of a platform bot: %v, want not found", err)
	}
}
