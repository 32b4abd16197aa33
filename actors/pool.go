package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/messenger"
)

// Executor runs the part of an occurrence that takes time: asking the agent
// for a run_llm task, running a workflow's steps. It delivers what it
// produces through x.Send. Its report stands whether it succeeded or not.
type Executor interface {
	Execute(ctx context.Context, x Execution) (Report, error)
	// Iterate runs one turn of the goal loop: it asks the agent to carry
	// the goal on and delivers the reply.
	Iterate(ctx context.Context, x GoalIteration) (Report, error)
}

// Execution is one occurrence handed to the Executor.
type Execution struct {
	Bot        string
	Task       alice.Task // with its placeholders filled in
	Occurrence alice.Occurrence
	// Conversation is the task's scope as its agent sees it, with the
	// context of the request that created the task when it is known.
	Conversation alice.Conversation
	Send         Sender
}

// Report is what an execution did.
type Report struct {
	MessageID string          // the last message it sent
	Attempts  []alice.Attempt // each try of the agent, in order
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
	slots     chan struct{} // one per job queued or running
	jobs      chan func()
	closed    chan struct{}
	closeOnce sync.Once
	workers   sync.WaitGroup

	mu       sync.Mutex
	draining bool
	pending  sync.WaitGroup // jobs offered and not finished
	idle     chan struct{}  // closed when draining and no job is pending
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
// running ones to finish. It reports whether they all did; if they did, the
// workers are stopped, else stop must follow.
func (p *pool) drain(ctx context.Context) bool {
	p.mu.Lock()
	if !p.draining {
		p.draining = true
		p.idle = make(chan struct{})
		go func() {
			p.pending.Wait()
			close(p.idle)
		}()
	}
	p.mu.Unlock()
	select {
	case <-p.idle:
		p.stopWorkers()
		p.workers.Wait()
		return true
	case <-ctx.Done():
		return false
	}
}

// stop waits, at most until ctx ends, for the jobs a drain left running
// (cancelled by then), and stops the workers. A job still running when ctx
// ends is abandoned: its occurrence was never recorded, so it runs again
// after the next start.
func (p *pool) stop(ctx context.Context) {
	select {
	case <-p.idle:
	case <-ctx.Done():
	}
	p.stopWorkers()
}

func (p *pool) stopWorkers() { p.closeOnce.Do(func() { close(p.closed) }) }

// jobRunner runs the jobs the conversations start and reports each one back
// to its conversation.
type jobRunner struct {
	executor Executor
	clock    alice.Clock
	ids      *alice.IDs
	timeout  time.Duration
	// report brings a finished job back to its conversation.
	report func(key alice.ConversationKey, cmd command, what string)
}

func (r *jobRunner) timeoutOf(bot *BotConfig) time.Duration {
	if bot.JobTimeout > 0 {
		return bot.JobTimeout
	}
	return r.timeout
}

func (r *jobRunner) run(j *job) {
	res := result{attempts: 1}
	if j.ctx.Err() != nil {
		res.notStarted = true
	} else {
		ctx, cancel := context.WithTimeout(j.ctx, r.timeoutOf(j.bot))
		send := r.sender(j.bot, j.conversation, "occurrence/"+j.occ.ID, &res)
		if j.task.Action == alice.ActionSendText {
			res.messageID, res.err = send(ctx, alice.Outgoing{Kind: alice.KindText, Text: j.task.Text}, "")
		} else {
			var rep Report
			rep, res.err = r.executor.Execute(ctx, Execution{Bot: j.conv.Bot, Task: j.task, Occurrence: j.occ, Conversation: j.conversation, Send: send})
			res.messageID, res.log = rep.MessageID, rep.Attempts
			res.attempts = max(1, len(rep.Attempts))
		}
		cancel()
		if res.err != nil && j.ctx.Err() != nil {
			res.err = errors.New("the task was paused, cancelled or deleted while this occurrence ran")
		}
	}
	res.finishedAt = r.clock.Now()
	if context.Cause(j.ctx) == errShuttingDown {
		return // stopped by Shutdown: unrecorded, it runs again after the restart
	}
	r.report(j.conv, jobDone{job: j, res: res}, "occurrence "+j.occ.ID)
}

// iterate runs a goal loop turn. Like an occurrence, a turn cut short by a
// crash or a shutdown is not recorded and runs again, under the same number
// and so the same dedupe key for its reply.
func (r *jobRunner) iterate(it *iteration) {
	res := result{attempts: 1}
	if it.ctx.Err() != nil {
		res.notStarted = true
	} else {
		ctx, cancel := context.WithTimeout(it.ctx, r.timeoutOf(it.bot))
		x := it.x
		x.Send = r.sender(it.bot, x.Conversation, fmt.Sprintf("goal/%s/%d", x.Goal.ID, x.Goal.Iterations+1), &res)
		var rep Report
		rep, res.err = r.executor.Iterate(ctx, x)
		res.messageID, res.log = rep.MessageID, rep.Attempts
		cancel()
	}
	res.finishedAt = r.clock.Now()
	if context.Cause(it.ctx) == errShuttingDown {
		return
	}
	r.report(it.conv, iterationDone{it: it, res: res}, fmt.Sprintf("goal %s turn %d", it.x.Goal.ID, it.x.Goal.Iterations+1))
}

// sender delivers a job's messages: into the result, for the conversation
// to commit with the job's record, when the bot's messenger is the local
// outbox; through the chat platform otherwise, under a dedupe key of the
// job (prefix) and step, which no request's Idempotency-Key can name.
func (r *jobRunner) sender(bot *BotConfig, to alice.Conversation, prefix string, res *result) Sender {
	return func(ctx context.Context, m alice.Outgoing, step string) (string, error) {
		if bot.Messenger == nil {
			stored := m.Stored(r.ids.New("om_"), r.clock.Now())
			res.staged = append(res.staged, staged{message: stored, content: m.Data})
			return stored.ID, nil
		}
		return bot.Messenger.Send(ctx, messenger.TargetFor(to), m, prefix+"/"+step)
	}
}

// noExecutor is the Executor of a runtime configured without one.
type noExecutor struct{}

var errNoExecutor = errors.New("this runtime has no executor for agents")

func (noExecutor) Execute(context.Context, Execution) (Report, error) { return Report{}, errNoExecutor }
func (noExecutor) Iterate(context.Context, GoalIteration) (Report, error) {
	return Report{}, errNoExecutor
}
