package actors

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/await"
)

func TestGoalThroughServicePersists(t *testing.T) {
	store := openStore(t, t.TempDir())
	svc := startRuntime(t, Config{Store: store}).Bot("main")
	conv := chatConv(1)

	created, err := svc.CreateGoal(bg, conv, alice.GoalCreate{Description: "Review PR #42"})
	if err != nil || created == nil || created.Status != alice.GoalInProgress {
		t.Fatalf("create = %+v, %v", created, err)
	}
	if _, err := svc.CreateGoal(bg, conv, alice.GoalCreate{Description: "again"}); alice.ErrorCode(err) != alice.EConflict {
		t.Fatalf("second create: %v, want conflict", err)
	}
	if _, err := svc.PauseGoal(bg, conv); err != nil {
		t.Fatal(err)
	}
	// What the store holds is what was acknowledged, without the actor.
	h, err := store.Load(bg, chatKey(1))
	if err != nil || h.Goal == nil || h.Goal.ID != created.ID || h.Goal.Status != alice.GoalPaused {
		t.Fatalf("stored header = %+v, %v; want goal %s paused", h.Goal, err, created.ID)
	}
	if g, err := svc.GetGoal(bg, chatConv(2)); err != nil || g != nil {
		t.Fatalf("another conversation sees %+v, %v", g, err)
	}
	if _, err := svc.GetGoal(bg, alice.Conversation{ReceiveIDType: "chat_id"}); alice.ErrorCode(err) != alice.EInvalid {
		t.Fatalf("no receive id: %v, want invalid", err)
	}
}

func TestRequestAfterShutdownIsUnavailable(t *testing.T) {
	rt := startRuntime(t, Config{Store: openStore(t, t.TempDir())})
	if err := rt.Shutdown(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Bot("main").GetGoal(bg, chatConv(1)); alice.ErrorCode(err) != alice.EUnavailable {
		t.Fatalf("after shutdown: %v, want unavailable", err)
	}
}

func TestExpiredDeadlineIsNotApplied(t *testing.T) {
	svc := startRuntime(t, Config{Store: openStore(t, t.TempDir())}).Bot("main")
	ctx, cancel := context.WithDeadline(bg, time.Now().Add(-time.Second))
	defer cancel()
	if _, err := svc.CreateGoal(ctx, chatConv(1), alice.GoalCreate{Description: "late"}); alice.ErrorCode(err) != alice.EUnavailable || !strings.Contains(err.Error(), "not applied") {
		t.Fatalf("expired deadline: %v, want unavailable, not applied", err)
	}
	if g, _ := svc.GetGoal(bg, chatConv(1)); g != nil {
		t.Fatalf("the late create was applied: %+v", g)
	}
}

// TestCommandPastItsDeadlineIsDropped keeps a conversation busy (its commit
// held at a gate) while a second request waits in its mailbox past its
// deadline. The caller is told it was not applied, and it never is.
func TestCommandPastItsDeadlineIsDropped(t *testing.T) {
	store := &gatedStore{Store: openStore(t, t.TempDir())}
	svc := startRuntime(t, Config{Store: store}).Bot("main")
	store.close()
	first := make(chan error, 1)
	go func() {
		_, err := svc.CreateGoal(bg, chatConv(1), alice.GoalCreate{Description: "first"})
		first <- err
	}()
	await.Until(t, 10*time.Second, "the first commit to reach the gate", func() bool { return store.waiting.Load() == 1 })

	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	_, err := svc.CreateTask(ctx, alice.TaskCreate{Input: alice.TaskInput{
		ScopeType: alice.Value("chat"), ScopeID: alice.Value("oc_1"), Action: alice.Value("send_text"), Text: alice.Value("late"),
		RunAt: alice.Value("2099-01-01T00:00:00Z"),
	}})
	if alice.ErrorCode(err) != alice.EUnavailable || !strings.Contains(err.Error(), "not applied") {
		t.Fatalf("request stuck behind a busy conversation: %v, want unavailable, not applied", err)
	}
	store.open()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, total, _ := svc.ListTasks(bg, alice.TaskFilter{}, alice.Page{Limit: 10}); total != 0 {
		t.Fatalf("the request answered \"not applied\" created %d tasks", total)
	}
}

// TestConcurrentConversations races commands inside and across 1,000
// conversations. Within a conversation, of several concurrent creates
// exactly one wins, and of several concurrent pauses exactly one wins; the
// winners are what a fresh runtime over the reopened store must find.
func TestConcurrentConversations(t *testing.T) {
	const conversations, racers = 1000, 4
	dir := t.TempDir()
	store := openStore(t, dir)
	life := newLifecycles(t)
	rt, err := New(Config{Store: store, Logger: quietLogger(), Hooks: life.hooks(), Shards: 8})
	if err != nil {
		t.Fatal(err)
	}
	svc := rt.Bot("main")
	winners := make([]string, conversations) // id of the acknowledged create
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // bound the goroutines doing work at once
	for i := 0; i < conversations; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			conv := chatConv(i)
			race := func(name string, op func() (*alice.Goal, error)) (oks []*alice.Goal, conflicts int) {
				var mu sync.Mutex
				var inner sync.WaitGroup
				for r := 0; r < racers; r++ {
					inner.Add(1)
					go func() {
						defer inner.Done()
						g, err := op()
						mu.Lock()
						defer mu.Unlock()
						switch alice.ErrorCode(err) {
						case "":
							oks = append(oks, g)
						case alice.EConflict:
							conflicts++
						default:
							t.Errorf("%v %s: %v", conv, name, err)
						}
					}()
				}
				inner.Wait()
				return oks, conflicts
			}
			created, conflicts := race("create", func() (*alice.Goal, error) {
				return svc.CreateGoal(bg, conv, alice.GoalCreate{Description: fmt.Sprint("goal ", i)})
			})
			if len(created) != 1 || conflicts != racers-1 {
				t.Errorf("%v: %d creates acknowledged and %d conflicts, want 1 and %d", conv, len(created), conflicts, racers-1)
				return
			}
			winners[i] = created[0].ID
			paused, conflicts := race("pause", func() (*alice.Goal, error) { return svc.PauseGoal(bg, conv) })
			if len(paused) != 1 || conflicts != racers-1 {
				t.Errorf("%v: %d pauses acknowledged and %d conflicts, want 1 and %d", conv, len(paused), conflicts, racers-1)
			}
		}(i)
	}
	wg.Wait()
	if err := rt.Shutdown(bg); err != nil {
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
	svc2 := startRuntime(t, Config{Store: openStore(t, dir)}).Bot("main")
	for i := 0; i < conversations; i++ {
		g, err := svc2.GetGoal(bg, chatConv(i))
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
	svc := startRuntime(t, Config{
		Store:       openStore(t, t.TempDir()),
		Hooks:       life.hooks(),
		Shards:      2,
		MaxLive:     6, // three per shard, far fewer than the conversations
		IdleTimeout: time.Millisecond,
	}).Bot("main")
	var wg sync.WaitGroup
	for i := 0; i < conversations; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			conv := chatConv(i)
			var lastCompleted string
			for c := 0; c < cycles; c++ {
				want := fmt.Sprintf("cycle %d of %d", c, i)
				if g, err := svc.GetGoal(bg, conv); err != nil || g != nil {
					t.Errorf("%v before cycle %d: %+v, %v; want no active goal (last completed %s)", conv, c, g, err, lastCompleted)
					return
				}
				created, err := svc.CreateGoal(bg, conv, alice.GoalCreate{Description: want})
				if err != nil {
					t.Errorf("%v create %d: %v", conv, c, err)
					return
				}
				got, err := svc.GetGoal(bg, conv)
				if err != nil || got == nil || got.ID != created.ID || got.Description != want {
					t.Errorf("%v after create %d: %+v, %v; want %s", conv, c, got, err, created.ID)
					return
				}
				done, err := svc.CompleteGoal(bg, conv)
				if err != nil || done.ID != created.ID {
					t.Errorf("%v complete %d: %+v, %v", conv, c, done, err)
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
