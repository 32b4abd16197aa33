package actors

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/alice-runtime/alice"
)

// Executor runs one occurrence of a task: sends its text, asks the LLM,
// runs its workflow. It is given the occurrence id as the idempotency key of
// whatever it delivers, because after a crash an occurrence may run again.
type Executor interface {
	Execute(ctx context.Context, bot string, task alice.Task, occurrence alice.Occurrence) (messageID string, err error)
}

// errCancelledBeforeRun marks a queued occurrence whose task was cancelled
// or deleted before a worker took it.
var errCancelledBeforeRun = errors.New("the task was cancelled before this occurrence ran")

// job is one occurrence handed to the pool.
type job struct {
	ctx        context.Context // cancelled when the task is cancelled or deleted
	key        alice.ConversationKey
	task       alice.Task
	occurrence alice.Occurrence
}

// pool runs occurrences off the conversations' mailboxes with a fixed number
// of workers. Capacity is reserved before a conversation commits the start
// of an occurrence, so a started occurrence always has a place and submit
// never blocks an actor.
type pool struct {
	rt      *Runtime
	jobs    chan job
	slots   chan struct{} // one token per job queued or running
	timeout time.Duration
	workers sync.WaitGroup
	closed  chan struct{} // stops the workers

	mu       sync.Mutex
	draining bool
	pending  sync.WaitGroup // reserved jobs not yet finished
	room     chan struct{}  // signalled when a place frees up
}

func newPool(rt *Runtime, workers, queue int, timeout time.Duration) *pool {
	p := &pool{
		rt:      rt,
		jobs:    make(chan job, workers+queue),
		slots:   make(chan struct{}, workers+queue),
		timeout: timeout,
		closed:  make(chan struct{}),
		room:    make(chan struct{}, 1),
	}
	for i := 0; i < workers; i++ {
		p.workers.Add(1)
		go p.work()
	}
	return p
}

// reserve takes a place for one job, or reports that there is none.
func (p *pool) reserve() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.draining {
		return false
	}
	select {
	case p.slots <- struct{}{}:
		p.pending.Add(1)
		return true
	default:
		return false
	}
}

func (p *pool) release() {
	<-p.slots
	p.pending.Done()
	select {
	case p.room <- struct{}{}:
	default:
	}
}

// waitRoom blocks until the pool has a free place or stop is closed, and
// reports which. The timer service waits here rather than deliver work the
// conversations would have to refuse.
func (p *pool) waitRoom(stop <-chan struct{}) bool {
	for len(p.slots) >= cap(p.slots) {
		select {
		case <-p.room:
		case <-stop:
			return false
		}
	}
	return true
}

// submit queues a job whose place was reserved; it never blocks.
func (p *pool) submit(j job) { p.jobs <- j }

func (p *pool) work() {
	defer p.workers.Done()
	for {
		select {
		case <-p.closed:
			return
		case j := <-p.jobs:
			p.run(j)
			p.release()
		}
	}
}

func (p *pool) run(j job) {
	done := jobDone{taskID: j.task.ID, occurrenceID: j.occurrence.ID}
	if j.ctx.Err() != nil {
		done.err = errCancelledBeforeRun
	} else {
		ctx, cancel := context.WithTimeout(j.ctx, p.timeout)
		done.messageID, done.err = p.rt.cfg.Executor.Execute(ctx, j.key.Bot, j.task, j.occurrence)
		cancel()
		if done.err != nil && j.ctx.Err() != nil {
			done.err = errors.New("the task was cancelled while this occurrence ran")
		}
	}
	done.finishedAt = p.rt.cfg.Clock.Now()
	p.report(j.key, done)
}

// report delivers the result to the conversation, activating it if needed.
// If it cannot be delivered (the runtime is stopping), the occurrence stays
// in flight in the store and is resumed after the restart.
func (p *pool) report(key alice.ConversationKey, done jobDone) {
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := p.rt.request(ctx, key, done)
		cancel()
		if err == nil || alice.ErrorCode(err) != alice.EUnavailable {
			if err != nil {
				p.rt.cfg.Logger.Error("recording an occurrence failed", "task", done.taskID, "occurrence", done.occurrenceID, "err", err)
			}
			return
		}
		select {
		case <-p.closed:
			return
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	p.rt.cfg.Logger.Warn("occurrence result not delivered; it resumes after a restart", "task", done.taskID, "occurrence", done.occurrenceID)
}

// drain stops taking jobs and waits, at most until ctx ends, for queued and
// running ones to finish and report; then it stops the workers. A job still
// running when ctx ends is abandoned: its occurrence stays in flight in the
// store and is resumed after the restart.
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
