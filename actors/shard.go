package actors

import (
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/alice-runtime/alice"
)

// Messages between a shard and its conversations.
type (
	// passivate asks a conversation to stop. Sent only by its shard, after
	// which the shard buffers new traffic until it sees Terminated or
	// passivateRefused.
	passivate struct{}
	// passivateRefused tells the shard the conversation cannot stop now (it
	// has work in flight); the shard makes it live again and flushes its
	// buffer.
	passivateRefused struct{ pid *actor.PID }
	// sweep asks a shard to passivate its idle conversations.
	sweep struct{}
	// drain asks a shard to stop all its conversations and answer when they
	// have all terminated. After drain the shard refuses new requests.
	drain struct{}
	// drained answers drain.
	drained struct{}
)

// child is a shard's record of one conversation actor.
type child struct {
	key      alice.ConversationKey
	pid      *actor.PID
	lastUsed time.Time
	buffer   []*envelope // requests held while the actor passivates
}

// shardConfig is what a shard needs: how to make a conversation actor, and
// its bounds.
type shardConfig struct {
	newConversation func(alice.ConversationKey) actor.Actor
	dispatcher      actor.Dispatcher
	clock           alice.Clock
	maxLive         int           // live conversations in this shard
	idleTimeout     time.Duration // passivate after this long unused
	maxBuffered     int           // requests held per passivating conversation
}

// shard owns a slice of the conversations. It alone spawns them, so a
// conversation can never be spawned twice, and every request for one passes
// through it, so it can hold requests while the conversation passivates
// (protoactor's Stop would silently drop them).
type shard struct {
	cfg      shardConfig
	live     *simplelru.LRU[alice.ConversationKey, *child] // recency order: oldest first
	stopping map[alice.ConversationKey]*child              // asked to passivate, not yet terminated
	byPID    map[string]*child                             // live or stopping, by actor id

	draining  bool
	drainedTo *actor.PID // who asked for drain, answered when no child is left
}

func newShard(cfg shardConfig) *shard {
	// The LRU itself must never evict: a silent eviction would forget a live
	// actor, and the next request would spawn a second one for its key. The
	// shard evicts by hand, before spawning, through the passivation
	// handshake; the LRU's own size is only a backstop far above the cap,
	// which refused passivations may exceed a little.
	live, _ := simplelru.NewLRU[alice.ConversationKey, *child](math.MaxInt32, nil)
	return &shard{
		cfg:      cfg,
		live:     live,
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
		msg.answer(reply{err: errShuttingDown})
		return
	}
	if c, ok := s.stopping[msg.key]; ok {
		if len(c.buffer) >= s.cfg.maxBuffered {
			msg.answer(reply{err: alice.Errorf(alice.EUnavailable, "conversation %s is busy; it was not applied, retry later", msg.key.Scope)})
			return
		}
		c.buffer = append(c.buffer, msg)
		return
	}
	c, ok := s.live.Get(msg.key)
	if !ok {
		c = s.spawn(ctx, msg.key)
	}
	c.lastUsed = s.cfg.clock.Now()
	ctx.Send(c.pid, msg)
}

// spawn starts a conversation actor, first passivating the least recently
// used one if the shard is at its cap.
func (s *shard) spawn(ctx actor.Context, key alice.ConversationKey) *child {
	for s.live.Len() >= s.cfg.maxLive {
		_, oldest, _ := s.live.GetOldest()
		s.passivate(ctx, oldest)
	}
	props := actor.PropsFromProducer(func() actor.Actor { return s.cfg.newConversation(key) }, actor.WithDispatcher(s.cfg.dispatcher))
	c := &child{key: key, pid: ctx.Spawn(props), lastUsed: s.cfg.clock.Now()}
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
	c.lastUsed = s.cfg.clock.Now()
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
			p.answer(reply{err: errShuttingDown})
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
		ctx.Send(c.pid, p)
	}
	c.buffer = nil
}

// sweep passivates conversations idle longer than the idle timeout. The LRU
// is in recency order, so it stops at the first one still in use.
func (s *shard) sweep(ctx actor.Context) {
	now := s.cfg.clock.Now()
	for {
		_, c, ok := s.live.GetOldest()
		if !ok || now.Sub(c.lastUsed) < s.cfg.idleTimeout {
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
