package actors

import (
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/alice-runtime/alice"
)

// child is a shard's record of one conversation actor.
type child struct {
	key      alice.ConversationKey
	pid      *actor.PID
	lastUsed time.Time
	buffer   []pending // requests held while the actor passivates
}

// pending is a buffered request and the future waiting for its answer.
type pending struct {
	msg    *envelope
	sender *actor.PID
}

// shard owns a slice of the conversations. It alone spawns them, so a
// conversation can never be spawned twice, and every request for one passes
// through it, so it can hold requests while the conversation passivates
// (protoactor's Stop would silently drop them).
type shard struct {
	rt       *Runtime
	live     *simplelru.LRU[alice.ConversationKey, *child] // recency order: oldest first
	maxLive  int
	stopping map[alice.ConversationKey]*child // asked to passivate, not yet terminated
	byPID    map[string]*child                // live or stopping, by actor id

	draining  bool
	drainedTo *actor.PID // who asked for drain, answered when no child is left
}

func newShard(rt *Runtime, maxLive int) *shard {
	// The LRU itself must never evict: a silent eviction would forget a live
	// actor, and the next request would spawn a second one for its key. The
	// shard evicts by hand, before spawning, through the passivation
	// handshake; the LRU's own size is only a backstop far above the cap,
	// which refused passivations may exceed a little.
	live, _ := simplelru.NewLRU[alice.ConversationKey, *child](math.MaxInt32, nil)
	return &shard{
		rt:       rt,
		live:     live,
		maxLive:  maxLive,
		stopping: make(map[alice.ConversationKey]*child),
		byPID:    make(map[string]*child),
	}
}

func (s *shard) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *envelope:
		s.route(ctx, msg)
	case passivateRefused:
		s.refused(ctx, msg.pid)
	case *actor.Terminated:
		s.terminated(ctx, msg.Who)
	case sweep:
		s.sweep(ctx)
	case drain:
		s.drain(ctx)
	}
}

func (s *shard) route(ctx actor.Context, msg *envelope) {
	if s.draining {
		ctx.Respond(&reply{err: errShuttingDown})
		return
	}
	if c, ok := s.stopping[msg.key]; ok {
		if len(c.buffer) >= s.rt.cfg.MaxBuffered {
			ctx.Respond(&reply{err: alice.Errorf(alice.EUnavailable, "conversation %s is busy; retry later", msg.key.Scope)})
			return
		}
		c.buffer = append(c.buffer, pending{msg: msg, sender: ctx.Sender()})
		return
	}
	c, ok := s.live.Get(msg.key)
	if !ok {
		c = s.spawn(ctx, msg.key)
	}
	c.lastUsed = s.rt.cfg.Clock.Now()
	ctx.Forward(c.pid)
}

// spawn starts a conversation actor, first passivating the least recently
// used one if the shard is at its cap.
func (s *shard) spawn(ctx actor.Context, key alice.ConversationKey) *child {
	for s.live.Len() >= s.maxLive {
		_, oldest, _ := s.live.GetOldest()
		s.passivate(ctx, oldest)
	}
	rt := s.rt
	props := actor.PropsFromProducer(func() actor.Actor { return newConversation(rt, key) })
	c := &child{key: key, pid: ctx.Spawn(props), lastUsed: rt.cfg.Clock.Now()}
	s.live.Add(key, c)
	s.byPID[c.pid.Id] = c
	return c
}

// passivate starts the handshake: from here until the actor terminates or
// refuses, requests for it are buffered. The passivate message queues behind
// every request already forwarded, so those are all answered first.
func (s *shard) passivate(ctx actor.Context, c *child) {
	s.live.Remove(c.key)
	s.stopping[c.key] = c
	ctx.Send(c.pid, passivate{})
}

// refused makes a conversation that could not stop live again. The live set
// may then exceed its cap by the number of busy conversations, which the
// worker pool bounds; the next spawn evicts again.
func (s *shard) refused(ctx actor.Context, who *actor.PID) {
	c, ok := s.byPID[who.Id]
	if !ok || s.stopping[c.key] != c {
		return
	}
	if s.draining {
		// Shutdown does not wait for in-flight work to be polite: stop it.
		ctx.Poison(c.pid)
		return
	}
	delete(s.stopping, c.key)
	c.lastUsed = s.rt.cfg.Clock.Now()
	s.live.Add(c.key, c)
	s.flush(ctx, c)
}

func (s *shard) terminated(ctx actor.Context, who *actor.PID) {
	c, ok := s.byPID[who.Id]
	if !ok {
		return
	}
	delete(s.byPID, who.Id)
	if s.stopping[c.key] == c {
		delete(s.stopping, c.key)
	} else {
		// It stopped without being asked (it failed too often): forget it;
		// the next request spawns a fresh one from the stored snapshot.
		s.live.Remove(c.key)
	}
	if s.draining {
		for _, p := range c.buffer {
			ctx.Send(p.sender, &reply{err: errShuttingDown})
		}
		s.answerDrainWhenEmpty(ctx)
		return
	}
	if len(c.buffer) > 0 {
		next := s.spawn(ctx, c.key)
		next.buffer = c.buffer
		s.flush(ctx, next)
	}
}

// flush forwards buffered requests in arrival order.
func (s *shard) flush(ctx actor.Context, c *child) {
	for _, p := range c.buffer {
		ctx.RequestWithCustomSender(c.pid, p.msg, p.sender)
	}
	c.buffer = nil
}

// sweep passivates conversations idle longer than the idle timeout. The LRU
// is in recency order, so it stops at the first one still in use.
func (s *shard) sweep(ctx actor.Context) {
	now := s.rt.cfg.Clock.Now()
	for {
		_, c, ok := s.live.GetOldest()
		if !ok || now.Sub(c.lastUsed) < s.rt.cfg.IdleTimeout {
			return
		}
		s.passivate(ctx, c)
	}
}

// drain stops every conversation. Poison queues behind what each mailbox
// already holds, so accepted requests are answered before the actor stops.
func (s *shard) drain(ctx actor.Context) {
	s.draining = true
	s.drainedTo = ctx.Sender()
	for _, c := range s.live.Values() {
		s.live.Remove(c.key)
		s.stopping[c.key] = c
		ctx.Poison(c.pid)
	}
	s.answerDrainWhenEmpty(ctx)
}

func (s *shard) answerDrainWhenEmpty(ctx actor.Context) {
	if s.drainedTo != nil && len(s.stopping) == 0 && s.live.Len() == 0 {
		ctx.Send(s.drainedTo, drained{})
		s.drainedTo = nil
	}
}
