package actors

import (
	"context"
	"testing"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

// BenchmarkRouterGoalGet is one request/response through a shard to a live
// conversation actor, without HTTP.
func BenchmarkRouterGoalGet(b *testing.B) {
	store, err := openBenchStore(b)
	if err != nil {
		b.Fatal(err)
	}
	rt, err := New(Config{Store: store, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Shutdown(context.Background())
	ctx := context.Background()
	const conversations = 64
	for i := 0; i < conversations; i++ {
		Goal(ctx, rt, chatKey(i), alice.GoalCommand{Op: alice.GoalCreate, Description: "bench"})
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := Goal(ctx, rt, chatKey(i%conversations), alice.GoalCommand{Op: alice.GoalGet}); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func openBenchStore(b *testing.B) (*badgerstore.Store, error) {
	s, err := badgerstore.Open(b.TempDir(), quietLogger())
	if err == nil {
		b.Cleanup(func() { s.Close() })
	}
	return s, err
}
