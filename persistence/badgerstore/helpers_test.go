package badgerstore

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTemp(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

var ctx = context.Background()

func chat(id string) alice.ConversationKey {
	return alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: id}}
}

func at(min int) *time.Time {
	t := time.Date(2025, 1, 15, 9, min, 0, 0, time.UTC)
	return &t
}

func task(key alice.ConversationKey, id string, status alice.TaskStatus, due *time.Time) *alice.TaskState {
	return &alice.TaskState{
		Task: alice.Task{ID: id, ScopeType: key.Scope.Type, ScopeID: key.Scope.ID, Action: alice.ActionSendText, Text: "hi", Status: status, NextRunAt: due},
		Due:  due,
	}
}

// conv is one conversation's writer in a test: it keeps the header and
// tasks it last committed, as a conversation actor does.
type conv struct {
	t      *testing.T
	s      *Store
	key    alice.ConversationKey
	header alice.Header
	tasks  map[string]*alice.TaskState
}

func newConv(t *testing.T, s *Store, key alice.ConversationKey) *conv {
	return &conv{t: t, s: s, key: key, tasks: map[string]*alice.TaskState{}}
}

// put creates or replaces tasks, keeping the header's counts.
func (c *conv) put(ts ...*alice.TaskState) {
	c.t.Helper()
	h := c.header.Clone()
	ch := &persistence.Change{PrevHeader: &c.header, Header: &h}
	for _, next := range ts {
		prev := c.tasks[next.ID]
		if prev != nil {
			h.Tasks.Add(prev.Status, -1)
		}
		h.Tasks.Add(next.Status, 1)
		ch.Tasks = append(ch.Tasks, persistence.TaskWrite{Prev: prev, Next: next})
	}
	c.commit(ch)
	for _, next := range ts {
		c.tasks[next.ID] = next
	}
}

func (c *conv) remove(id string) {
	c.t.Helper()
	prev := c.tasks[id]
	h := c.header.Clone()
	h.Tasks.Add(prev.Status, -1)
	c.commit(&persistence.Change{PrevHeader: &c.header, Header: &h, Tasks: []persistence.TaskWrite{{Prev: prev}}})
	delete(c.tasks, id)
}

func (c *conv) commit(ch *persistence.Change) {
	c.t.Helper()
	if err := c.s.Commit(ctx, c.key, ch); err != nil {
		c.t.Fatalf("commit: %v", err)
	}
	if ch.Header != nil {
		c.header = *ch.Header
	}
}

// check runs the consistency check on a closed store's directory.
func checkDir(t *testing.T, dir string) *CheckReport {
	t.Helper()
	r, err := Check(dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// countFamily counts the keys of family f.
func countFamily(t *testing.T, s *Store, f byte) int {
	t.Helper()
	var n int
	err := s.versions.view(func(txn *badger.Txn) (err error) {
		n, err = countKeys(txn, []byte{f})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
