package actors

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/messenger"
)

// Executor runs the part of an occurrence that takes time: asking the LLM
// for a run_llm task, running a workflow's steps. It delivers what it
// produces through send, and returns the id of the last message sent.
type Executor interface {
	Execute(ctx context.Context, bot string, task alice.Task, occ alice.Occurrence, send Sender) (messageID string, err error)
}

// Sender delivers one message of an occurrence. step tells the messages of
// one occurrence apart: each gets its own dedupe key from it, so an
// occurrence run again after a crash sends each of them once.
type Sender func(ctx context.Context, m alice.Outgoing, step string) (messageID string, err error)

// pool runs jobs off the conversations' mailboxes with a fixed number of
// workers and a bounded queue. A place is taken when the job is offered, so
// offering never blocks an actor: a full pool says no at once, and the
// timer service delivers the occurrence again a little later.
type pool struct {
	slots   chan struct{} // one per job queued or running
	jobs    chan func()
	closed  chan struct{}
	workers sync.WaitGroup

	mu       sync.Mutex
	draining bool
	pending  sync.WaitGroup // jobs offered and not finished
}

func newPool(workers, queue int) *pool {
	p := &pool{
		slots:  make(chan struct{}, workers+queue),
		jobs:   make(chan func(), workers+queue),
		closed: make(chan struct{}),
	}
	for range workers {
		p.workers.Add(1)
		go p.work()
	}
	return p
}

// offer queues f if the pool has a place for it.
func (p *pool) offer(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.draining {
		return false
	}
	select {
	case p.slots <- struct{}{}:
	default:
		return false
	}
	p.pending.Add(1)
	p.jobs <- f // cannot block: it has as many places as slots
	return true
}

func (p *pool) work() {
	defer p.workers.Done()
	for {
		select {
		case <-p.closed:
			return
		case f := <-p.jobs:
			f()
			<-p.slots
			p.pending.Done()
		}
	}
}

// drain stops taking jobs and waits, at most until ctx ends, for queued and
// running ones to finish; then it stops the workers. A job still running
// when ctx ends is abandoned: its occurrence was never recorded, so it runs
// again after the next start.
func (p *pool) drain(ctx context.Context) {
	p.mu.Lock()
	p.draining = true
	p.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		p.pending.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		close(p.closed)
		p.workers.Wait()
	case <-ctx.Done():
		close(p.closed)
	}
}

// jobRunner runs the jobs the conversations start and reports each one back
// to its conversation.
type jobRunner struct {
	executor Executor
	clock    alice.Clock
	ids      *alice.IDs
	timeout  time.Duration
	report   func(j *job, res result)
}

func (r *jobRunner) run(j *job) {
	res := result{attempts: 1}
	if j.ctx.Err() != nil {
		res.notStarted = true
	} else {
		ctx, cancel := context.WithTimeout(j.ctx, r.timeout)
		send := r.sender(j, &res)
		if j.task.Action == alice.ActionSendText {
			res.messageID, res.err = send(ctx, alice.Outgoing{Kind: alice.KindText, Text: j.task.Text}, "")
		} else {
			res.messageID, res.err = r.executor.Execute(ctx, j.conv.Bot, j.task, j.occ, send)
		}
		cancel()
		if res.err != nil && j.ctx.Err() != nil {
			res.err = errors.New("the task was paused, cancelled or deleted while this occurrence ran")
		}
	}
	res.finishedAt = r.clock.Now()
	r.report(j, res)
}

// sender delivers an occurrence's messages: into the result, for the
// conversation to commit with the run, when the bot's messenger is the
// local outbox; through the chat platform otherwise, under a dedupe key of
// the occurrence and step, which no request's Idempotency-Key can name.
func (r *jobRunner) sender(j *job, res *result) Sender {
	return func(ctx context.Context, m alice.Outgoing, step string) (string, error) {
		if j.bot.Messenger == nil {
			stored := m.Stored(r.ids.New("om_"), r.clock.Now())
			res.staged = append(res.staged, staged{message: stored, content: m.Data})
			return stored.ID, nil
		}
		return j.bot.Messenger.Send(ctx, messenger.TargetOf(j.task.Scope()), m, "occurrence/"+j.occ.ID+"/"+step)
	}
}

// noExecutor is the Executor of a runtime configured without one.
type noExecutor struct{}

func (noExecutor) Execute(context.Context, string, alice.Task, alice.Occurrence, Sender) (string, error) {
	return "", errors.New("this runtime has no executor for LLM tasks and workflows")
}
