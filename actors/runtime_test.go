package actors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T, dir string) *badgerstore.Store {
	t.Helper()
	s, err := badgerstore.Open(dir, quietLogger())
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

func chatKey(i int) alice.ConversationKey {
	return alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: fmt.Sprintf("oc_%d", i)}}
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

func TestGoalThroughRouterPersists(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	store := openStore(t, dir)
	rt := startRuntime(t, Config{Store: store})
	key := chatKey(1)

	created, err := Goal(ctx, rt, key, alice.GoalCommand{Op: alice.GoalCreate, Description: "Review PR #42"})
	if err != nil || created == nil || created.Status != alice.GoalInProgress {
		t.Fatalf("create = %+v, %v", created, err)
	}
	if _, err := Goal(ctx, rt, key, alice.GoalCommand{Op: alice.GoalCreate, Description: "again"}); alice.ErrorCode(err) != alice.EConflict {
		t.Fatalf("second create: %v, want conflict", err)
	}
	if _, err := Goal(ctx, rt, key, alice.GoalCommand{Op: alice.GoalPause}); err != nil {
		t.Fatal(err)
	}

	// What the store holds is what was acknowledged, without the actor.
	snap, err := store.Load(ctx, key)
	if err != nil || snap.Goal == nil || snap.Goal.ID != created.ID || snap.Goal.Status != alice.GoalPaused {
		t.Fatalf("stored snapshot = %+v, %v; want goal %s paused", snap.Goal, err, created.ID)
	}
	if g, err := Goal(ctx, rt, chatKey(2), alice.GoalCommand{Op: alice.GoalGet}); err != nil || g != nil {
		t.Fatalf("another conversation sees %+v, %v", g, err)
	}
}

func TestRequestAfterShutdownIsUnavailable(t *testing.T) {
	rt := startRuntime(t, Config{Store: openStore(t, t.TempDir())})
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := Goal(context.Background(), rt, chatKey(1), alice.GoalCommand{Op: alice.GoalGet})
	if alice.ErrorCode(err) != alice.EUnavailable {
		t.Fatalf("after shutdown: %v, want unavailable", err)
	}
}

func TestExpiredDeadlineIsUnavailable(t *testing.T) {
	rt := startRuntime(t, Config{Store: openStore(t, t.TempDir())})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := Goal(ctx, rt, chatKey(1), alice.GoalCommand{Op: alice.GoalGet}); alice.ErrorCode(err) != alice.EUnavailable {
		t.Fatalf("expired deadline: %v, want unavailable", err)
	}
}

// TestConcurrentConversations races commands inside and across 1,000
// conversations. Within a conversation, of several concurrent creates
// exactly one wins, and of several concurrent pauses exactly one wins; the
// winners are what a fresh runtime over the reopened store must find.
func TestConcurrentConversations(t *testing.T) {
	const conversations, racers = 1000, 4
	dir := t.TempDir()
	ctx := context.Background()
	store, err := badgerstore.Open(dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	life := newLifecycles(t)
	rt, err := New(Config{Store: store, Logger: quietLogger(), Hooks: life.hooks(), Shards: 8})
	if err != nil {
		t.Fatal(err)
	}

	winners := make([]string, conversations) // id of the acknowledged create
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // bound the goroutines doing work at once
	for i := 0; i < conversations; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			key := chatKey(i)
			race := func(cmd alice.GoalCommand) (oks []*alice.Goal, conflicts int) {
				var mu sync.Mutex
				var inner sync.WaitGroup
				for r := 0; r < racers; r++ {
					inner.Add(1)
					go func() {
						defer inner.Done()
						g, err := Goal(ctx, rt, key, cmd)
						mu.Lock()
						defer mu.Unlock()
						switch alice.ErrorCode(err) {
						case "":
							oks = append(oks, g)
						case alice.EConflict:
							conflicts++
						default:
							t.Errorf("%s %s: %v", key, cmd.Op, err)
						}
					}()
				}
				inner.Wait()
				return oks, conflicts
			}
			created, conflicts := race(alice.GoalCommand{Op: alice.GoalCreate, Description: fmt.Sprint("goal ", i)})
			if len(created) != 1 || conflicts != racers-1 {
				t.Errorf("%s: %d creates acknowledged and %d conflicts, want 1 and %d", key, len(created), conflicts, racers-1)
				return
			}
			winners[i] = created[0].ID
			paused, conflicts := race(alice.GoalCommand{Op: alice.GoalPause})
			if len(paused) != 1 || conflicts != racers-1 {
				t.Errorf("%s: %d pauses acknowledged and %d conflicts, want 1 and %d", key, len(paused), conflicts, racers-1)
			}
		}(i)
	}
	wg.Wait()
	if err := rt.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < conversations; i++ {
		if n := life.activationsOf(chatKey(i)); n != 1 {
			t.Errorf("%s was activated %d times, want once", chatKey(i), n)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	store2 := openStore(t, dir)
	rt2 := startRuntime(t, Config{Store: store2})
	for i := 0; i < conversations; i++ {
		g, err := Goal(ctx, rt2, chatKey(i), alice.GoalCommand{Op: alice.GoalGet})
		if err != nil || g == nil || g.ID != winners[i] || g.Status != alice.GoalPaused {
			t.Fatalf("%s after restart: %+v, %v; want goal %s paused", chatKey(i), g, err, winners[i])
		}
	}
}

// TestPassivationKeepsState runs sequential goal cycles in many
// conversations while a tiny idle timeout and LRU cap keep passivating
// them. Every request must be answered, and every answer must reflect the
// conversation's previous acknowledged change.
func TestPassivationKeepsState(t *testing.T) {
	const conversations, cycles = 40, 15
	life := newLifecycles(t)
	rt := startRuntime(t, Config{
		Store:       openStore(t, t.TempDir()),
		Hooks:       life.hooks(),
		Shards:      2,
		MaxLive:     6, // three per shard, far fewer than the conversations
		IdleTimeout: time.Millisecond,
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < conversations; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			key := chatKey(i)
			var lastCompleted string
			for c := 0; c < cycles; c++ {
				want := fmt.Sprintf("cycle %d of %d", c, i)
				if g, err := Goal(ctx, rt, key, alice.GoalCommand{Op: alice.GoalGet}); err != nil || g != nil {
					t.Errorf("%s before cycle %d: %+v, %v; want no active goal (last completed %s)", key, c, g, err, lastCompleted)
					return
				}
				created, err := Goal(ctx, rt, key, alice.GoalCommand{Op: alice.GoalCreate, Description: want})
				if err != nil {
					t.Errorf("%s create %d: %v", key, c, err)
					return
				}
				got, err := Goal(ctx, rt, key, alice.GoalCommand{Op: alice.GoalGet})
				if err != nil || got == nil || got.ID != created.ID || got.Description != want {
					t.Errorf("%s after create %d: %+v, %v; want %s", key, c, got, err, created.ID)
					return
				}
				done, err := Goal(ctx, rt, key, alice.GoalCommand{Op: alice.GoalComplete})
				if err != nil || done.ID != created.ID {
					t.Errorf("%s complete %d: %+v, %v", key, c, done, err)
					return
				}
				lastCompleted = done.ID
			}
		}(i)
	}
	wg.Wait()
	if life.passivated.Load() == 0 {
		t.Fatal("no conversation was passivated; the test did not exercise passivation")
	}
	reactivated := 0
	for i := 0; i < conversations; i++ {
		if life.activationsOf(chatKey(i)) > 1 {
			reactivated++
		}
	}
	if reactivated == 0 {
		t.Fatal("no conversation was re-activated after passivation")
	}
	t.Logf("%d passivations; %d of %d conversations re-activated", life.passivated.Load(), reactivated, conversations)
}

func TestProtoactorInfoLogsAreDebug(t *testing.T) {
	for _, tt := range []struct {
		level slog.Level
		shown bool
	}{{slog.LevelInfo, false}, {slog.LevelDebug, true}} {
		var logs strings.Builder
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: tt.level}))
		startRuntime(t, Config{Store: openStore(t, t.TempDir()), Logger: logger})
		if got := strings.Contains(logs.String(), "actor system started"); got != tt.shown {
			t.Errorf("at %s, protoactor's start line shown = %v, want %v: %q", tt.level, got, tt.shown, logs.String())
		}
	}
}
