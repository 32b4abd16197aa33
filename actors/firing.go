package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alice-runtime/alice"
)

// taskDue is the timer service's delivery: task id is due at at.
type taskDue struct {
	id string
	at time.Time
}

// dueAnswer is the conversation's answer to a delivery, for the timer
// service's bookkeeping and for tests.
type dueAnswer int

const (
	dueStale   dueAnswer = iota // no longer due at that time: ignored
	dueEarly                    // not due yet by this conversation's clock: retry at its time
	dueRunning                  // its occurrence is already running here
	dueBusy                     // due, but its worker pool is full: retry soon
	dueStarted                  // handled: run, started, skipped or purged
)

// job is an occurrence handed to a worker pool: everything the worker needs,
// and what the conversation needs to record it when it comes back.
type job struct {
	conv         alice.ConversationKey
	conversation alice.Conversation // as the agent and the messenger see it
	bot          *BotConfig
	task         alice.Task // with its placeholders filled in
	occ          alice.Occurrence
	plan         alice.Plan
	due          time.Time // the task's due time when it started
	ctx          context.Context
	cancel       context.CancelFunc
}

// result is how a job ended.
type result struct {
	messageID  string
	staged     []staged // messages for the local outbox, committed with the run
	err        error
	notStarted bool // cancelled before a worker took it
	attempts   int
	log        []alice.Attempt
	finishedAt time.Time
}

// staged is a message an occurrence made for the local outbox.
type staged struct {
	message alice.Message
	content []byte
}

func (d taskDue) run(c *conversation) (any, error) {
	if c.running[d.id] != nil {
		return dueRunning, nil
	}
	ts, err := c.taskState(d.id)
	if alice.ErrorCode(err) == alice.ENotFound {
		return dueStale, nil // deleted since
	}
	if err != nil {
		return dueStale, err
	}
	if ts.Due == nil || ts.Due.UnixMilli() != d.at.UnixMilli() {
		return dueStale, nil // moved, paused or finished since
	}
	if ts.Status.Terminal() {
		return c.purge(ts) // its retention has ended
	}
	now := c.now()
	if ts.Due.After(now) {
		return dueEarly, nil // never early
	}
	plan, err := alice.PlanDue(&ts.Task, now, c.bot.CatchUpWindow, c.bot.Rules)
	if err != nil {
		return dueStale, err
	}
	if plan.Run == nil {
		return dueStarted, c.record(ts, plan, nil, *ts.Due, result{})
	}
	task := ts.Task
	if loc, err := task.Location(c.bot.Rules); err == nil {
		task.Text = alice.FillPlaceholders(task.Text, now, loc)
		task.Prompt = alice.FillPlaceholders(task.Prompt, now, loc)
	}
	occ := alice.Occurrence{ID: alice.OccurrenceID(ts.ID, *plan.Run), ScheduledAt: plan.Run.UTC(), StartedAt: now}
	c.d.hooks.started(c.key.Bot, now.Sub(*plan.Run))
	if c.bot.Messenger == nil && task.Action == alice.ActionSendText {
		// Sending text to the local outbox needs no worker: the message,
		// the run record and the next slot commit together, once.
		m := alice.Outgoing{Kind: alice.KindText, Text: task.Text}
		stored := m.Stored(c.d.ids.New("om_"), now)
		res := result{messageID: stored.ID, staged: []staged{{message: stored}}, attempts: 1, finishedAt: now}
		return dueStarted, c.record(ts, plan, &occ, *ts.Due, res)
	}
	ctx, cancel := context.WithCancel(c.d.jobs)
	j := &job{conv: c.key, conversation: ts.Conversation(), bot: c.bot, task: task, occ: occ, plan: plan, due: *ts.Due, ctx: ctx, cancel: cancel}
	if !c.d.start(j) {
		cancel()
		return dueBusy, nil
	}
	c.running[ts.ID] = j
	return dueStarted, nil
}

// jobDone brings a finished occurrence back from its worker.
type jobDone struct {
	job *job
	res result
}

func (d jobDone) run(c *conversation) (any, error) {
	j := d.job
	id := j.task.ID
	if c.running[id] == j {
		delete(c.running, id)
	}
	j.cancel()
	prev, err := c.taskState(id)
	if alice.ErrorCode(err) == alice.ENotFound {
		return nil, nil // deleted meanwhile: its records went with it
	}
	if err != nil {
		return nil, err
	}
	return nil, c.record(prev, j.plan, &j.occ, j.due, d.res)
}

// maxRunError bounds the error a run record keeps: the end of an agent's
// stderr is already bounded, an endpoint's message is not.
const maxRunError = 8 << 10

// pausedNotice tells the task's scope that its task stopped and how to
// start it again.
func pausedNotice(t *alice.Task) string {
	name := t.ID
	if t.Title != "" {
		name = fmt.Sprintf("%q (%s)", t.Title, t.ID)
	}
	return fmt.Sprintf("Task %s is paused: %s. Resume it with: alice runtime automation update %s --status active",
		name, t.PausedReason, t.ID)
}

var errCancelledBeforeRun = errors.New("the task was paused, cancelled or deleted before this occurrence ran")

// record commits what became of a due task: the slots its plan skipped, the
// occurrence that ran (if any) with what it sent to the local outbox, and
// the task's next slot, all in one commit. due is the task's due time when
// the plan was made; if the task has been rescheduled since (patched), its
// new schedule stands.
func (c *conversation) record(prev *alice.TaskState, plan alice.Plan, occ *alice.Occurrence, due time.Time, res result) error {
	now := c.now()
	next := *prev
	ch := c.begin()
	number := func(r alice.Run) alice.RunRecord {
		rec := alice.RunRecord{TaskID: next.ID, Seq: next.Recorded, Run: r}
		next.Recorded++
		return rec
	}
	for i, slot := range plan.Skipped {
		reason := plan.Reason
		if i == 0 && plan.Omitted > 0 {
			reason += fmt.Sprintf(" (%d earlier missed slots are not listed)", plan.Omitted)
		}
		ch.run(number(alice.Run{OccurrenceID: alice.OccurrenceID(next.ID, slot), ScheduledAt: slot.UTC(), Outcome: alice.OutcomeSkipped, Error: reason}))
	}
	switch {
	case occ != nil && res.notStarted:
		ch.run(number(alice.Run{OccurrenceID: occ.ID, ScheduledAt: occ.ScheduledAt, Outcome: alice.OutcomeSkipped, Error: errCancelledBeforeRun.Error()}))
	case occ != nil:
		started, finished := occ.StartedAt, res.finishedAt.UTC()
		run := alice.Run{OccurrenceID: occ.ID, ScheduledAt: occ.ScheduledAt, StartedAt: &started, FinishedAt: &finished,
			Outcome: alice.OutcomeSucceeded, MessageID: res.messageID, Attempts: res.attempts, AttemptLog: res.log}
		next.Failures = 0
		if res.err != nil {
			run.Outcome, run.Error = alice.OutcomeFailed, alice.Truncate(res.err.Error(), maxRunError)
			next.Failures = prev.Failures + 1
		}
		next.RunCount++
		next.LastRunAt, next.LastError = &started, run.Error
		ch.run(number(run))
	case len(plan.Skipped) > 0:
		next.LastError = plan.Reason
	}
	if next.Status == alice.TaskActive && prev.Due != nil && prev.Due.Equal(due) {
		next.NextRunAt = plan.Next
		if plan.Next == nil {
			next.Status = alice.TaskCompleted
		}
	}
	if next.Status == alice.TaskActive && next.MaxRuns > 0 && next.RunCount >= next.MaxRuns {
		next.Status, next.NextRunAt = alice.TaskCompleted, nil
	}
	if next.Status == alice.TaskActive && next.Cron != "" && c.bot.MaxConsecutiveFailures > 0 && next.Failures >= c.bot.MaxConsecutiveFailures {
		next.Status, next.NextRunAt = alice.TaskPaused, nil
		next.PausedReason = fmt.Sprintf("%d occurrences in a row failed; the last with: %s", next.Failures, next.LastError)
		if err := c.notice(ch, pausedNotice(&next.Task)); err != nil {
			return err
		}
	}
	next.UpdatedAt = now
	c.settle(prev, &next)
	ch.putTask(prev, &next)
	for _, s := range res.staged {
		if err := ch.addMessage(s.message, s.content); err != nil {
			return err
		}
	}
	if err := c.trimFinished(ch); err != nil {
		return err
	}
	ch.after = append(ch.after, func() {
		c.d.hooks.recorded(c.key.Bot, ch.ch.Runs)
		c.d.hooks.attempted(c.key.Bot, res.log)
	})
	return ch.commit()
}
