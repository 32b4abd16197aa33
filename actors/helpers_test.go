package actors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T, dir string) *badgerstore.Store {
	t.Helper()
	s, err := badgerstore.Open(dir, badgerstore.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func startRuntime(t *testing.T, cfg Config) *Runtime {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	rt, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Shutdown(context.Background()) })
	return rt
}

var bg = context.Background()

func chatKey(i int) alice.ConversationKey {
	return alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: fmt.Sprintf("oc_%d", i)}}
}

func chatConv(i int) alice.Conversation {
	return alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: fmt.Sprintf("oc_%d", i)}
}

// lifecycles counts activations per conversation and fails the test if two
// actors of one conversation are ever alive at the same time.
type lifecycles struct {
	t           *testing.T
	mu          sync.Mutex
	alive       map[alice.ConversationKey]int
	activations map[alice.ConversationKey]int
	passivated  atomic.Int64
}

func newLifecycles(t *testing.T) *lifecycles {
	return &lifecycles{t: t, alive: map[alice.ConversationKey]int{}, activations: map[alice.ConversationKey]int{}}
}

func (l *lifecycles) hooks() Hooks {
	return Hooks{
		Activated: func(k alice.ConversationKey) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.alive[k]++
			l.activations[k]++
			if l.alive[k] > 1 {
				l.t.Errorf("conversation %s has %d live actors", k, l.alive[k])
			}
		},
		Passivated: func(k alice.ConversationKey) {
			l.mu.Lock()
			l.alive[k]--
			l.mu.Unlock()
			l.passivated.Add(1)
		},
	}
}

func (l *lifecycles) activationsOf(k alice.ConversationKey) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.activations[k]
}

// gatedStore holds every Commit at a gate while closed, so a test can keep a
// conversation busy for as long as it needs.
type gatedStore struct {
	Store
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	waiting atomic.Int64  // commits held at the gate
}

func (g *gatedStore) close() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedStore) open() {
	g.mu.Lock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
	g.mu.Unlock()
}

func (g *gatedStore) Commit(ctx context.Context, key alice.ConversationKey, c *persistence.Change) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		g.waiting.Add(1)
		<-gate
		g.waiting.Add(-1)
	}
	return g.Store.Commit(ctx, key, c)
}
