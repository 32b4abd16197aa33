package actors

import (
	"context"
	"fmt"

	"github.com/alice-runtime/alice"
)

// Task commands, sent to the conversation that owns the task's scope.
type (
	createTask struct{ req alice.TaskCreate }
	patchTask  struct {
		id    string
		patch alice.TaskInput
	}
	deleteTask struct{ id string }
)

func (cmd createTask) run(c *conversation) (any, error) {
	in := cmd.req.Input
	if scope, err := alice.ParseScope(in.ScopeType.Value, in.ScopeID.Value); err != nil {
		return nil, err
	} else if scope != c.key.Scope {
		return nil, fmt.Errorf("task for %s sent to conversation %s", scope, c.key)
	}
	return c.write(cmd.req.IdempotencyKey, cmd.req.Fingerprint, decodeAs[*alice.Task], func(ch *change) (any, error) {
		if c.header.Live() >= alice.MaxTasksPerConversation {
			return nil, errTaskCap
		}
		task, err := alice.NewTask(in, c.bot.Rules, c.d.ids.New("task_"), c.now())
		if err != nil {
			return nil, err
		}
		ts := &alice.TaskState{Task: *task}
		if o := cmd.req.Origin; o != nil && o.Scope() == c.key.Scope {
			origin := *o
			origin.SourceMessageID = ""
			ts.Origin = &origin
		}
		c.settle(nil, ts)
		ch.putTask(nil, ts)
		return task, nil
	})
}

var errTaskCap = alice.Errorf(alice.EConflict, "this conversation already has %d active or paused tasks, the most it may have; delete or cancel some first", alice.MaxTasksPerConversation)

func (cmd patchTask) run(c *conversation) (any, error) {
	prev, err := c.taskState(cmd.id)
	if err != nil {
		return nil, err
	}
	task, err := alice.PatchTask(prev, cmd.patch, c.bot.Rules, c.now())
	if err != nil {
		return nil, err
	}
	if prev.Status.Terminal() && !task.Status.Terminal() && c.header.Live() >= alice.MaxTasksPerConversation {
		return nil, errTaskCap
	}
	next := *prev
	next.Task = *task
	if prev.Status != alice.TaskActive && task.Status == alice.TaskActive {
		next.Failures = 0 // a fresh start: the failures that paused it are behind it
	}
	c.settle(prev, &next)
	ch := c.begin()
	ch.putTask(prev, &next)
	if err := c.trimFinished(ch); err != nil {
		return nil, err
	}
	if err := ch.commit(); err != nil {
		return nil, err
	}
	if task.Status != alice.TaskActive {
		c.cancelRunning(cmd.id)
	}
	return task, nil
}

func (cmd deleteTask) run(c *conversation) (any, error) {
	prev, err := c.taskState(cmd.id)
	if err != nil {
		return nil, err
	}
	ch := c.begin()
	ch.putTask(prev, nil)
	if err := ch.commit(); err != nil {
		return nil, err
	}
	c.cancelRunning(cmd.id)
	return nil, nil
}

// taskState reads a task of this conversation from the store. The
// conversation is its only writer, so what the store holds is what the
// conversation last committed.
func (c *conversation) taskState(id string) (*alice.TaskState, error) {
	return c.d.store.TaskRecord(context.Background(), c.key, id)
}

// settle sets when the timer service must next deliver the task: at its
// next run while active, never while paused, at the end of its retention
// once finished (kept from when it first finished).
func (c *conversation) settle(prev, next *alice.TaskState) {
	switch {
	case next.Status == alice.TaskActive:
		next.Due = next.NextRunAt
	case next.Status == alice.TaskPaused:
		next.Due = nil
	case prev != nil && prev.Status.Terminal() && prev.Due != nil:
		next.Due = prev.Due
	default:
		end := c.now().Add(c.bot.TaskRetention)
		next.Due = &end
	}
}

// trimFinished removes the oldest finished tasks beyond the conversation's
// bound, so that one sending text through one-shot tasks keeps the newest.
func (c *conversation) trimFinished(ch *change) error {
	excess := ch.header.Terminal() - alice.MaxFinishedTasksPerConversation
	if excess <= 0 {
		return nil
	}
	ids, err := c.d.store.OldestFinished(context.Background(), c.key, excess)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, written := ch.tasks[id]; written {
			continue
		}
		prev, err := c.d.store.TaskRecord(context.Background(), c.key, id)
		if err != nil {
			return err
		}
		ch.putTask(prev, nil)
	}
	return nil
}

// purge deletes a finished task whose retention has ended.
func (c *conversation) purge(prev *alice.TaskState) (dueAnswer, error) {
	if prev.Due.After(c.now()) {
		return dueEarly, nil
	}
	ch := c.begin()
	ch.putTask(prev, nil)
	return dueStarted, ch.commit()
}

// cancelRunning stops an occurrence that has not finished, so a paused,
// cancelled or deleted task does not deliver: a job still queued is
// dropped, one running sees its context cancelled.
func (c *conversation) cancelRunning(id string) {
	if j, ok := c.running[id]; ok {
		j.cancel()
	}
}
