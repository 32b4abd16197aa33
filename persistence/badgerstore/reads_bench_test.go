package badgerstore

import (
	"fmt"
	"testing"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// BenchmarkFullConversation reads one full conversation the ways that
// format 6 answers from its task records instead of an index: its 500
// live tasks were created first and its 1,000 finished ones after, so a
// page of finished tasks and the oldest finished task both come after
// every live one.
func BenchmarkFullConversation(b *testing.B) {
	s, err := Open(b.TempDir(), Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	key := chat("oc_full")
	const live, total = alice.MaxTasksPerConversation, alice.MaxTasksPerConversation + alice.MaxFinishedTasksPerConversation
	var h alice.Header
	for i := 0; i < total; i += 100 {
		next := h.Clone()
		ch := &persistence.Change{PrevHeader: &h, Header: &next}
		for j := i; j < i+100; j++ {
			ts := task(key, fmt.Sprintf("task_%04d", j), alice.TaskActive, at(1))
			if j >= live {
				ts = task(key, fmt.Sprintf("task_%04d", j), alice.TaskCompleted, nil)
			}
			next.Tasks.Add(ts.Status, 1)
			ch.Tasks = append(ch.Tasks, persistence.TaskWrite{Next: ts})
		}
		if err := s.Commit(ctx, key, ch); err != nil {
			b.Fatal(err)
		}
		h = next
	}

	scope := alice.TaskFilter{ScopeType: key.Scope.Type, ScopeID: key.Scope.ID}
	for _, bm := range []struct {
		name   string
		status alice.TaskStatus
		offset int
	}{
		{"first page of live tasks", alice.TaskActive, 0},
		{"last page of live tasks", alice.TaskActive, live - 50},
		{"first page of finished tasks", alice.TaskCompleted, 0},
	} {
		b.Run(bm.name, func(b *testing.B) {
			f := scope
			f.Status = bm.status
			for b.Loop() {
				got, _, err := s.Tasks(ctx, "main", f, alice.Page{Offset: bm.offset, Limit: 50})
				if err != nil || len(got) != 50 {
					b.Fatalf("%d tasks, %v", len(got), err)
				}
			}
		})
	}
	b.Run("oldest finished task", func(b *testing.B) {
		for b.Loop() {
			ids, err := s.OldestFinished(ctx, key, 1)
			if err != nil || len(ids) != 1 || ids[0] != fmt.Sprintf("task_%04d", live) {
				b.Fatalf("%v, %v", ids, err)
			}
		}
	})
}
