package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alice-runtime/alice"
)

// Task commands, sent to the conversation that owns the task's scope.
type (
	createTask struct{ input alice.TaskInput }
	patchTask  struct {
		id    string
		patch alice.TaskInput
	}
	deleteTask struct{ id string }
)

// timerDue is the timer service's delivery: task id is due at at.
type timerDue struct {
	taskID string
	at     time.Time
}

// jobDone brings a finished occurrence back from the worker pool.
type jobDone struct {
	taskID       string
	occurrenceID string
	finishedAt   time.Time
	messageID    string
	err          error
}

// dueAnswer is the conversation's answer to timerDue, for the timer
// service's bookkeeping and for tests.
type dueAnswer int

const (
	dueStale    dueAnswer = iota // no longer due: ignored
	dueEarly                     // not due yet by this conversation's clock: retry soon
	dueRunning                   // its occurrence is already running here
	dueNoWorker                  // due, but no worker is free: retry soon
	dueStarted                   // an occurrence was started (or only skipped)
)

// BotPolicy is what a bot's conversations need to know to run its tasks.
type BotPolicy struct {
	Rules         alice.TaskRules
	CatchUpWindow time.Duration
}

// CreateTask creates a task in the conversation of key (its scope must match
// the input's) and returns it.
func CreateTask(ctx context.Context, r Router, key alice.ConversationKey, in alice.TaskInput) (*alice.Task, error) {
	return taskAnswer(r.Request(ctx, key, createTask{input: in}))
}

// PatchTask applies a JSON merge patch to the task id owned by key.
func PatchTask(ctx context.Context, r Router, key alice.ConversationKey, id string, patch alice.TaskInput) (*alice.Task, error) {
	return taskAnswer(r.Request(ctx, key, patchTask{id: id, patch: patch}))
}

// DeleteTask deletes the task id owned by key; it never runs again.
func DeleteTask(ctx context.Context, r Router, key alice.ConversationKey, id string) error {
	_, err := r.Request(ctx, key, deleteTask{id: id})
	return err
}

func taskAnswer(v any, err error) (*alice.Task, error) {
	if err != nil {
		return nil, err
	}
	t, _ := v.(*alice.Task)
	return t, nil
}

var errTaskNotFound = &alice.Error{Code: alice.ENotFound, Message: "task not found"}

func (c *conversation) policy() BotPolicy {
	if p, ok := c.rt.cfg.Policies[c.key.Bot]; ok {
		return p
	}
	return BotPolicy{CatchUpWindow: time.Hour}
}

// replaceTask returns a copy of s whose task list is a new slice with task
// id replaced by ts, or removed when ts is nil. The adopted snapshot is never
// modified before its successor commits.
func replaceTask(s alice.Snapshot, id string, ts *alice.TaskState) alice.Snapshot {
	tasks := make([]*alice.TaskState, 0, len(s.Tasks))
	for _, t := range s.Tasks {
		switch {
		case t.ID != id:
			tasks = append(tasks, t)
		case ts != nil:
			tasks = append(tasks, ts)
		}
	}
	s.Tasks = tasks
	return s
}

func (c *conversation) createTask(cmd createTask) (*alice.Task, error) {
	scope, err := alice.ParseScope(cmd.input.ScopeType.Value, cmd.input.ScopeID.Value)
	if err != nil {
		return nil, err
	}
	if scope != c.key.Scope {
		return nil, fmt.Errorf("task for %s sent to conversation %s", scope, c.key)
	}
	if len(c.snap.Tasks) >= alice.MaxTasksPerConversation {
		return nil, alice.Errorf(alice.EConflict, "this conversation already has %d tasks, the most it may have; delete some first", alice.MaxTasksPerConversation)
	}
	now := c.rt.cfg.Clock.Now()
	task, err := alice.NewTask(cmd.input, c.policy().Rules, c.rt.cfg.IDs.New("task_"), now)
	if err != nil {
		return nil, err
	}
	next := c.snap
	next.Tasks = append(append([]*alice.TaskState(nil), c.snap.Tasks...), &alice.TaskState{Task: *task})
	if err := c.commit(next, nil); err != nil {
		return nil, err
	}
	c.rt.timers.wake(task.NextRunAt)
	return task, nil
}

func (c *conversation) patchTask(cmd patchTask) (*alice.Task, error) {
	ts := c.snap.Task(cmd.id)
	if ts == nil {
		return nil, errTaskNotFound
	}
	task, err := alice.PatchTask(&ts.Task, cmd.patch, c.policy().Rules, c.rt.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	updated := *ts
	updated.Task = *task
	if err := c.commit(replaceTask(c.snap, cmd.id, &updated), nil); err != nil {
		return nil, err
	}
	if task.Status != alice.TaskActive {
		c.cancelRunning(cmd.id)
	}
	c.rt.timers.wake(updated.DueAt())
	return task, nil
}

func (c *conversation) deleteTask(cmd deleteTask) (any, error) {
	if c.snap.Task(cmd.id) == nil {
		return nil, errTaskNotFound
	}
	if err := c.commit(replaceTask(c.snap, cmd.id, nil), nil); err != nil {
		return nil, err
	}
	c.cancelRunning(cmd.id)
	return nil, nil
}

// cancelRunning stops an occurrence that has not finished, so a cancelled or
// deleted task does not deliver: a job still queued is dropped, one running
// sees its context cancelled.
func (c *conversation) cancelRunning(id string) {
	if cancel, ok := c.running[id]; ok {
		cancel()
	}
}

// due handles the timer service's delivery. It is idempotent: a delivery for
// a slot that is not the task's current one, or for an occurrence already
// running here, changes nothing.
func (c *conversation) due(d timerDue) (dueAnswer, error) {
	ts := c.snap.Task(d.taskID)
	if ts == nil {
		return dueStale, nil
	}
	if _, running := c.running[d.taskID]; running {
		return dueRunning, nil
	}
	due := ts.DueAt()
	now := c.rt.cfg.Clock.Now()
	if due == nil || due.UnixMilli() != d.at.UnixMilli() {
		return dueStale, nil // moved, finished or cancelled
	}
	if due.After(now) {
		return dueEarly, nil // never early
	}
	policy := c.policy()
	if ts.InFlight != nil {
		return c.resume(ts, now, policy)
	}
	plan, err := alice.PlanDue(&ts.Task, now, policy.CatchUpWindow, policy.Rules)
	if err != nil {
		return dueStale, err
	}
	if plan.Run != nil && !c.rt.pool.reserve() {
		return dueNoWorker, nil
	}
	next := *ts
	next.UpdatedAt = now.UTC()
	var runs []alice.RunRecord
	for i, slot := range plan.Skipped {
		reason := plan.Reason
		if i == 0 && plan.Omitted > 0 {
			reason += fmt.Sprintf(" (%d earlier missed slots are not listed)", plan.Omitted)
		}
		runs = append(runs, c.record(&next, alice.Run{
			OccurrenceID: alice.OccurrenceID(ts.ID, slot), ScheduledAt: slot.UTC(), Outcome: alice.OutcomeSkipped, Error: reason,
		}))
	}
	next.NextRunAt = plan.Next
	if plan.Run != nil {
		next.InFlight = &alice.Occurrence{ID: alice.OccurrenceID(ts.ID, *plan.Run), ScheduledAt: plan.Run.UTC(), StartedAt: now.UTC()}
	} else if len(plan.Skipped) > 0 {
		next.LastError = plan.Reason
		if plan.Next == nil {
			next.Status = alice.TaskCompleted
		}
	}
	if err := c.commit(replaceTask(c.snap, ts.ID, &next), runs); err != nil {
		if plan.Run != nil {
			c.rt.pool.release()
		}
		return dueStale, err
	}
	if plan.Run != nil {
		c.start(&next)
	}
	return dueStarted, nil
}

// resume handles an occurrence that was started and never recorded: the
// process stopped while it ran. Within the catch-up window it runs again
// with the same occurrence id (the messenger's idempotency key), so its
// delivery is at least once and its record exactly once; older, it is
// recorded as failed.
func (c *conversation) resume(ts *alice.TaskState, now time.Time, policy BotPolicy) (dueAnswer, error) {
	if ts.Status == alice.TaskCancelled {
		return dueStarted, c.finish(jobDone{taskID: ts.ID, occurrenceID: ts.InFlight.ID, finishedAt: now, err: errCancelledBeforeRun})
	}
	if now.Sub(ts.InFlight.ScheduledAt) > policy.CatchUpWindow {
		return dueStarted, c.finish(jobDone{
			taskID: ts.ID, occurrenceID: ts.InFlight.ID, finishedAt: now,
			err: fmt.Errorf("interrupted by a restart and not retried: older than the catch-up window (%s)", policy.CatchUpWindow),
		})
	}
	if !c.rt.pool.reserve() {
		return dueNoWorker, nil
	}
	c.start(ts)
	return dueStarted, nil
}

// start hands the in-flight occurrence of ts to the worker pool, which must
// have been reserved.
func (c *conversation) start(ts *alice.TaskState) {
	ctx, cancel := context.WithCancel(context.Background())
	c.running[ts.ID] = cancel
	c.rt.pool.submit(job{ctx: ctx, key: c.key, task: ts.Task, occurrence: *ts.InFlight})
}

// finish records a finished occurrence and moves the task on.
func (c *conversation) finish(d jobDone) error {
	if cancel, ok := c.running[d.taskID]; ok {
		cancel()
		delete(c.running, d.taskID)
	}
	ts := c.snap.Task(d.taskID)
	if ts == nil || ts.InFlight == nil || ts.InFlight.ID != d.occurrenceID {
		return nil // deleted meanwhile, or a stale report
	}
	occ := *ts.InFlight
	next := *ts
	next.InFlight = nil
	started, finished := occ.StartedAt, d.finishedAt.UTC()
	run := alice.Run{OccurrenceID: occ.ID, ScheduledAt: occ.ScheduledAt, StartedAt: &started, FinishedAt: &finished, Outcome: alice.OutcomeSucceeded, MessageID: d.messageID}
	switch {
	case errors.Is(d.err, errCancelledBeforeRun):
		// It never ran: a skipped occurrence, not a run.
		run = alice.Run{OccurrenceID: occ.ID, ScheduledAt: occ.ScheduledAt, Outcome: alice.OutcomeSkipped, Error: d.err.Error()}
	case d.err != nil:
		run.Outcome, run.Error = alice.OutcomeFailed, d.err.Error()
		next.RunCount++
		next.LastRunAt, next.LastError = &started, run.Error
	default:
		next.RunCount++
		next.LastRunAt, next.LastError = &started, ""
	}
	if next.Cron == "" && next.NextRunAt == nil && next.Status == alice.TaskActive {
		next.Status = alice.TaskCompleted
	}
	next.UpdatedAt = finished
	runs := []alice.RunRecord{c.record(&next, run)}
	if err := c.commit(replaceTask(c.snap, ts.ID, &next), runs); err != nil {
		return err
	}
	c.rt.timers.wake(next.DueAt())
	return nil
}

// record numbers a run as the task's next recorded occurrence.
func (c *conversation) record(ts *alice.TaskState, r alice.Run) alice.RunRecord {
	rec := alice.RunRecord{TaskID: ts.ID, Seq: ts.Recorded, Run: r}
	ts.Recorded++
	return rec
}
