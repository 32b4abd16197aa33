package actors

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

const (
	// dispatcherThroughput is protoactor's default: how many messages a
	// mailbox handles before it yields.
	dispatcherThroughput = 300
	// dispatcherKeep is how long an idle goroutine waits for another mailbox.
	dispatcherKeep = time.Second
	// dispatcherMaxIdle bounds the goroutines kept waiting, and so the
	// memory their stacks hold after a burst: enough for every client of a
	// heavy load to find one.
	dispatcherMaxIdle = 256
)

// keptDispatcher runs mailboxes on goroutines that, once a mailbox is empty,
// wait a while for the next one instead of exiting. protoactor's default
// dispatcher starts a goroutine each time an idle mailbox gets a message, and
// a conversation's turn (encoding records, committing them) then grows that
// fresh goroutine's stack step by step: 4% of the server's CPU under a load
// of task creates. A kept goroutine grows its stack once.
//
// There are never more goroutines than mailboxes running at once, which the
// live-conversation caps bound, plus at most maxIdle waiting, each for less
// than keep.
type keptDispatcher struct {
	next       chan func() // unbuffered: a send succeeds only to an idle goroutine
	stop       chan struct{}
	keep       time.Duration
	maxIdle    int64
	throughput int

	started atomic.Int64 // goroutines started, ever
	live    atomic.Int64 // goroutines not yet exited
	idle    atomic.Int64 // goroutines waiting for a mailbox now
}

var _ actor.Dispatcher = (*keptDispatcher)(nil)

func newKeptDispatcher(throughput int, keep time.Duration, maxIdle int) *keptDispatcher {
	return &keptDispatcher{next: make(chan func()), stop: make(chan struct{}), keep: keep, maxIdle: int64(maxIdle), throughput: throughput}
}

// close makes idle goroutines exit now, and busy ones when their mailbox is
// empty, so a runtime that has shut down leaves none behind. Schedule still
// works after close; each mailbox then gets a goroutine of its own.
func (d *keptDispatcher) close() { close(d.stop) }

// Schedule runs run on an idle goroutine, or on a new one if none is idle.
func (d *keptDispatcher) Schedule(run func()) {
	select {
	case d.next <- run:
	default:
		d.started.Add(1)
		d.live.Add(1)
		go d.work(run)
	}
}

// Throughput is how many messages a mailbox handles before it yields.
func (d *keptDispatcher) Throughput() int { return d.throughput }

func (d *keptDispatcher) work(run func()) {
	defer d.live.Add(-1)
	idle := time.NewTimer(d.keep)
	defer idle.Stop()
	for {
		run()
		if d.idle.Add(1) > d.maxIdle {
			d.idle.Add(-1)
			return
		}
		idle.Reset(d.keep)
		select {
		case run = <-d.next:
			d.idle.Add(-1)
		case <-idle.C:
			d.idle.Add(-1)
			return
		case <-d.stop:
			d.idle.Add(-1)
			return
		}
	}
}
