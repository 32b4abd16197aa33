package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/internal/fakeclock"
	"github.com/alice-runtime/alice/messenger/outbox"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

// BenchmarkDueOccurrences fires b.N one-shot send_text tasks that come due
// at the same instant in b.N conversations (each also holding four tasks
// that are not due), through the timer service, the worker pool, the real
// outbox and durable badger commits. It reports occurrences per second;
// each costs three synced transactions (start, message, record).
func BenchmarkDueOccurrences(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := badgerstore.Open(b.TempDir(), log)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	clock := fakeclock.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	ids := alice.NewIDs(clock)
	box := outbox.New("load", store, clock, ids, outbox.Retention{MaxMessages: 1000})
	rt, err := actors.New(actors.Config{
		Store: store, Logger: log, Clock: clock, IDs: ids,
		Executor: New(map[string]Bot{"load": {Messenger: box}}),
		Policies: map[string]actors.BotPolicy{"load": {Rules: alice.TaskRules{Zone: time.UTC}, CatchUpWindow: time.Hour}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Shutdown(context.Background())
	ctx := context.Background()
	sem := make(chan struct{}, 64)
	errs := make(chan error, 1)
	for c := 0; c < b.N; c++ {
		for i := 0; i < 5; i++ {
			sem <- struct{}{}
			go func(c, i int) {
				defer func() { <-sem }()
				at := "2099-01-01T00:00:00Z"
				if i == 0 {
					at = "2025-01-01T00:01:00Z"
				}
				var in alice.TaskInput
				json.Unmarshal([]byte(fmt.Sprintf(`{"scope_type":"chat","scope_id":"oc_%d","action":"send_text","text":"x","run_at":%q}`, c, at)), &in)
				key := alice.ConversationKey{Bot: "load", Scope: alice.Scope{Type: alice.ScopeChat, ID: fmt.Sprintf("oc_%d", c)}}
				if _, err := actors.CreateTask(ctx, rt, key, in); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}(c, i)
		}
	}
	for i := 0; i < cap(sem); i++ {
		sem <- struct{}{}
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	clock.Advance(2 * time.Minute)
	b.ResetTimer()
	start := time.Now()
	for {
		rt.RunDue(ctx)
		due, err := store.DueBy(ctx, clock.Now(), 1)
		if err != nil {
			b.Fatal(err)
		}
		if len(due) == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond) // the last occurrences are being recorded
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "occurrences/s")
}
