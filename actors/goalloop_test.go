package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/await"
	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

func loopBot() BotConfig {
	b := mainBot()
	b.Goal.Loop = true
	return b
}

// newLoop is a runtime whose bot runs the goal loop, with turn playing the
// agent.
func newLoop(t *testing.T, turn func(ctx context.Context, x GoalIteration) (string, error)) *sched {
	s := newSched(t, Config{Bots: map[string]BotConfig{"main": loopBot()}})
	s.exec.turn = turn
	return s
}

var loopConv = alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_1", ChatType: "group", SessionKey: "sess-1", SourceMessageID: "om_trigger"}

func (s *sched) goal() *alice.Goal {
	s.t.Helper()
	g, err := s.svc.GetGoal(bg, loopConv)
	if err != nil {
		s.t.Fatal(err)
	}
	return g
}

func (s *sched) texts() []string {
	var out []string
	for _, m := range s.messages(1) {
		out = append(out, m.Text)
	}
	return out
}

// TestGoalLoopIteratesUntilComplete plays an agent that waits for CI, then
// asks to go on at once, then completes the goal: each turn runs when its
// wake comes, with the goal's context, and its reply reaches the
// conversation, the last one included.
func TestGoalLoopIteratesUntilComplete(t *testing.T) {
	var s *sched
	s = newLoop(t, func(ctx context.Context, x GoalIteration) (string, error) {
		switch x.Goal.Iterations + 1 {
		case 1:
			_, err := s.svc.DelayGoal(ctx, loopConv, alice.GoalDelay{Duration: 30 * time.Minute, Reason: "waiting for CI"})
			return "opened the PR", err
		case 2:
			_, err := s.svc.DelayGoal(ctx, loopConv, alice.GoalDelay{Duration: 0, Reason: "fixing the tests"})
			return "CI failed; fixing", err
		default:
			_, err := s.svc.CompleteGoal(ctx, loopConv)
			return "all green, done", err
		}
	})
	if _, err := s.svc.CreateGoal(bg, loopConv, alice.GoalCreate{Description: "Get the PR merged"}); err != nil {
		t.Fatal(err)
	}
	s.rt.RunDue(bg)
	await.Until(t, 10*time.Second, "the first turn to be recorded", func() bool { g := s.goal(); return g != nil && g.Iterations == 1 })
	g := s.goal()
	if !g.NextWakeAt.Equal(t0.Add(30*time.Minute)) || g.DelayReason != "waiting for CI" || !g.LastIterationAt.Equal(t0) || g.LastError != "" {
		t.Fatalf("after the first turn: %+v", g)
	}
	s.at(29 * time.Minute)
	if n := len(s.exec.goalTurns()); n != 1 {
		t.Fatalf("%d turns before the wake", n)
	}
	s.at(30 * time.Minute)
	await.Until(t, 10*time.Second, "the goal to be completed", func() bool { return s.goal() == nil })
	turns := s.exec.goalTurns()
	if len(turns) != 3 || turns[1].Goal.DelayReason != "waiting for CI" || turns[2].Goal.Iterations != 2 {
		t.Fatalf("turns = %+v", turns)
	}
	want := loopConv
	want.SourceMessageID = ""
	for i, x := range turns {
		if x.Conversation != want {
			t.Fatalf("turn %d ran with %+v, want the goal's own context %+v", i+1, x.Conversation, want)
		}
	}
	await.Until(t, 10*time.Second, "the last reply", func() bool { return len(s.messages(1)) == 4 })
	if got := strings.Join(s.texts(), " | "); got != "The goal continues in 30m: waiting for CI | opened the PR | CI failed; fixing | all green, done" {
		t.Fatalf("conversation = %s", got)
	}
}

// TestFastLoopGuardPausesTheGoal: an agent that neither waits nor
// completes is stopped after five quick turns in a row; resuming gives it
// five more.
func TestFastLoopGuardPausesTheGoal(t *testing.T) {
	s := newLoop(t, nil)
	if _, err := s.svc.CreateGoal(bg, loopConv, alice.GoalCreate{Description: "spin"}); err != nil {
		t.Fatal(err)
	}
	s.rt.RunDue(bg)
	await.Until(t, 10*time.Second, "the guard to pause the goal", func() bool { g := s.goal(); return g != nil && g.Status == alice.GoalPaused })
	g := s.goal()
	if g.PausedReason != PausedFastLoop || g.Iterations != maxFastIterations || g.NextWakeAt != nil {
		t.Fatalf("paused goal = %+v", g)
	}
	s.at(time.Hour)
	if n := len(s.exec.goalTurns()); n != maxFastIterations {
		t.Fatalf("%d turns ran, want the loop stopped at %d", n, maxFastIterations)
	}
	texts := s.texts()
	if last := texts[len(texts)-1]; !strings.Contains(last, "5 quick turns in a row") {
		t.Fatalf("notice = %q", last)
	}
	if _, err := s.svc.ResumeGoal(bg, loopConv); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 10*time.Second, "the guard to pause it again", func() bool { g := s.goal(); return g.Status == alice.GoalPaused })
	if g := s.goal(); g.Iterations != 2*maxFastIterations {
		t.Fatalf("after resuming: %+v", g)
	}
}

// TestSlowTurnsOrDelaysKeepTheLoopGoing: turns longer than three minutes,
// or ending with a positive delay, do not count toward the guard.
func TestSlowTurnsOrDelaysKeepTheLoopGoing(t *testing.T) {
	var s *sched
	s = newLoop(t, func(ctx context.Context, x GoalIteration) (string, error) {
		n := x.Goal.Iterations + 1
		switch {
		case n == 8:
			_, err := s.svc.CompleteGoal(ctx, loopConv)
			return "done", err
		case n%2 == 0:
			s.clock.Advance(4 * time.Minute) // a long turn
		default:
			if _, err := s.svc.DelayGoal(ctx, loopConv, alice.GoalDelay{Duration: time.Minute, Reason: "a breath"}); err != nil {
				return "", err
			}
			s.clock.Advance(time.Minute)
		}
		return "working", nil
	})
	if _, err := s.svc.CreateGoal(bg, loopConv, alice.GoalCreate{Description: "steady"}); err != nil {
		t.Fatal(err)
	}
	// The turns move the clock themselves; the test delivers what comes
	// due after each.
	s.rt.RunDue(bg)
	for n := 1; ; n++ {
		var g *alice.Goal
		await.Until(t, 10*time.Second, fmt.Sprintf("turn %d to be recorded", n), func() bool { g = s.goal(); return g == nil || g.Iterations >= n })
		if g == nil {
			break
		}
		if g.Status == alice.GoalPaused {
			t.Fatalf("the goal was paused: %+v", g)
		}
		s.rt.RunDue(bg)
	}
	if n := len(s.exec.goalTurns()); n != 8 {
		t.Fatalf("%d turns, want 8", n)
	}
}

// TestFailingTurnsBackOffThenPause: a failed turn is tried again after a
// minute, then two; the third failure in a row pauses the goal.
func TestFailingTurnsBackOffThenPause(t *testing.T) {
	s := newLoop(t, func(context.Context, GoalIteration) (string, error) {
		return "", errors.New("agent: exit status 1: no credits")
	})
	if _, err := s.svc.CreateGoal(bg, loopConv, alice.GoalCreate{Description: "x"}); err != nil {
		t.Fatal(err)
	}
	s.rt.RunDue(bg)
	await.Until(t, 10*time.Second, "the first failure", func() bool { return s.goal().Iterations == 1 })
	if g := s.goal(); !strings.Contains(g.LastError, "no credits") || !g.NextWakeAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after one failure: %+v", g)
	}
	s.at(time.Minute)
	await.Until(t, 10*time.Second, "the second failure", func() bool { return s.goal().Iterations == 2 })
	if g := s.goal(); !g.NextWakeAt.Equal(t0.Add(3 * time.Minute)) {
		t.Fatalf("after two failures: %+v", g)
	}
	s.at(3 * time.Minute)
	await.Until(t, 10*time.Second, "the pause", func() bool { return s.goal().Status == alice.GoalPaused })
	if g := s.goal(); g.PausedReason != PausedFailing || g.Iterations != 3 {
		t.Fatalf("paused goal = %+v", g)
	}
	if texts := s.texts(); len(texts) != 1 || !strings.Contains(texts[0], "failed 3 turns in a row") || !strings.Contains(texts[0], "no credits") {
		t.Fatalf("conversation = %q", texts)
	}
}

// TestPauseAndDeadlineStopARunningTurn: pausing the goal cancels the turn
// under way; so does its deadline, which also times the goal out.
func TestPauseAndDeadlineStopARunningTurn(t *testing.T) {
	hang := func(ctx context.Context, _ GoalIteration) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}
	t.Run("pause", func(t *testing.T) {
		s := newLoop(t, hang)
		s.exec.turn = hang
		if _, err := s.svc.CreateGoal(bg, loopConv, alice.GoalCreate{Description: "x"}); err != nil {
			t.Fatal(err)
		}
		s.rt.RunDue(bg)
		await.Until(t, 10*time.Second, "the turn to start", func() bool { return len(s.exec.goalTurns()) == 1 })
		if _, err := s.svc.PauseGoal(bg, loopConv); err != nil {
			t.Fatal(err)
		}
		await.Until(t, 10*time.Second, "the cancelled turn to be recorded", func() bool { return s.goal().Iterations == 1 })
		if g := s.goal(); g.Status != alice.GoalPaused || g.NextWakeAt != nil {
			t.Fatalf("goal = %+v", g)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		s := newLoop(t, hang)
		if _, err := s.svc.CreateGoal(bg, loopConv, alice.GoalCreate{Description: "x", DeadlineIn: 10 * time.Minute}); err != nil {
			t.Fatal(err)
		}
		s.rt.RunDue(bg)
		await.Until(t, 10*time.Second, "the turn to start", func() bool { return len(s.exec.goalTurns()) == 1 })
		s.at(10 * time.Minute)
		await.Until(t, 10*time.Second, "the goal to time out", func() bool { return s.goal() == nil })
		await.Until(t, 10*time.Second, "the timed-out notice", func() bool { return len(s.messages(1)) == 1 })
		if !strings.Contains(s.texts()[0], "timed out") {
			t.Fatalf("conversation = %q", s.texts())
		}
		s.rt.Shutdown(bg) // returns only once the hung turn has returned
		if n := len(s.exec.goalTurns()); n != 1 {
			t.Fatalf("%d turns", n)
		}
	})
}

// TestInterruptedTurnRunsAgain: a turn cut short by a stop is not
// recorded; the next runtime runs it again under the same number.
func TestInterruptedTurnRunsAgain(t *testing.T) {
	dir := t.TempDir()
	clock := fakeclock.New(t0)
	bots := map[string]BotConfig{"main": loopBot()}
	store1, err := badgerstore.Open(dir, badgerstore.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	stuck := newRecorder()
	stuck.gate = make(chan struct{})
	stuck.turn = func(ctx context.Context, x GoalIteration) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}
	rt1, err := New(Config{Store: store1, Clock: clock, Executor: stuck, Bots: bots, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt1.Bot("main").CreateGoal(bg, loopConv, alice.GoalCreate{Description: "x"}); err != nil {
		t.Fatal(err)
	}
	rt1.RunDue(bg)
	await.Until(t, 10*time.Second, "the turn to start", func() bool { return len(stuck.goalTurns()) == 1 })
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	rt1.Shutdown(ctx)
	cancel()
	store1.Close()

	s := &sched{t: t, clock: clock, exec: newRecorder()}
	s.store = openStore(t, dir)
	// Read the store before the next runtime starts: its timers run the
	// due turn at once.
	h, err := s.store.Load(bg, alice.ConversationKey{Bot: "main", Scope: loopConv.Scope()})
	if err != nil {
		t.Fatal(err)
	}
	if h.Goal == nil || h.Goal.Iterations != 0 || h.Goal.LastIterationAt != nil {
		t.Fatalf("the interrupted turn was recorded: %+v", h.Goal)
	}
	s.rt = startRuntime(t, Config{Store: s.store, Clock: clock, Executor: s.exec, Bots: bots})
	s.svc = s.rt.Bot("main")
	s.rt.RunDue(bg)
	await.Until(t, 10*time.Second, "the turn to run again", func() bool { return len(s.exec.goalTurns()) > 0 })
	if x := s.exec.goalTurns()[0]; x.Goal.Iterations != 0 {
		t.Fatalf("the turn ran again as number %d, want 1", x.Goal.Iterations+1)
	}
}

// TestNoLoopWithoutTheLoop: a bot without the goal loop runs no turns; a
// delay's wake passes without one.
func TestNoLoopWithoutTheLoop(t *testing.T) {
	s := newSched(t, Config{})
	if _, err := s.svc.CreateGoal(bg, loopConv, alice.GoalCreate{Description: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.DelayGoal(bg, loopConv, alice.GoalDelay{Duration: time.Minute, Reason: "later"}); err != nil {
		t.Fatal(err)
	}
	s.at(time.Minute)
	await.Until(t, 10*time.Second, "the wake to be cleared", func() bool { return s.goal().NextWakeAt == nil })
	if n := len(s.exec.goalTurns()); n != 0 {
		t.Fatalf("%d turns without the loop", n)
	}
}
