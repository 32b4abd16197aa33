package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// indexedTask is the task index's value: the task as shown and its owner.
type indexedTask struct {
	Key  string     `json:"key"`
	Task alice.Task `json:"task"`
}

func taskKey(bot, id string) []byte { return []byte(prefixTask + bot + "/" + id) }

func dueKey(at time.Time, taskID string, key alice.ConversationKey) []byte {
	return []byte(fmt.Sprintf("%s%016x/%s/%s", prefixDue, at.UnixMilli(), taskID, key.String()))
}

func runKey(taskID string, seq int) []byte {
	return []byte(fmt.Sprintf("%s%s/%016x", prefixRun, taskID, seq))
}

func runPrefix(taskID string) []byte { return []byte(prefixRun + taskID + "/") }

// updateTaskIndexes brings the task and due indexes from prev's tasks to
// next's, touching only what changed.
func updateTaskIndexes(txn *badger.Txn, key alice.ConversationKey, prev, next alice.Snapshot) error {
	old := make(map[string]*alice.TaskState, len(prev.Tasks))
	for _, t := range prev.Tasks {
		old[t.ID] = t
	}
	for _, t := range next.Tasks {
		before := old[t.ID]
		delete(old, t.ID)
		if before == nil || !before.Task.Equal(&t.Task) {
			v, err := json.Marshal(indexedTask{Key: key.String(), Task: t.Task})
			if err != nil {
				return err
			}
			if err := txn.Set(taskKey(key.Bot, t.ID), v); err != nil {
				return err
			}
		}
		was, now := dueOf(before), t.DueAt()
		if sameDue(was, now) {
			continue
		}
		if was != nil {
			if err := txn.Delete(dueKey(*was, t.ID, key)); err != nil {
				return err
			}
		}
		if now != nil {
			if err := txn.Set(dueKey(*now, t.ID, key), nil); err != nil {
				return err
			}
		}
	}
	for id, t := range old { // deleted tasks
		if err := txn.Delete(taskKey(key.Bot, id)); err != nil {
			return err
		}
		if due := t.DueAt(); due != nil {
			if err := txn.Delete(dueKey(*due, id, key)); err != nil {
				return err
			}
		}
		if err := deletePrefix(txn, runPrefix(id)); err != nil {
			return err
		}
	}
	return nil
}

func dueOf(t *alice.TaskState) *time.Time {
	if t == nil {
		return nil
	}
	return t.DueAt()
}

func sameDue(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UnixMilli() == b.UnixMilli()
}

// writeRuns stores run records and drops the ones that fall out of each
// task's retention.
func writeRuns(txn *badger.Txn, runs []alice.RunRecord) error {
	for _, r := range runs {
		v, err := json.Marshal(r.Run)
		if err != nil {
			return err
		}
		if err := txn.Set(runKey(r.TaskID, r.Seq), v); err != nil {
			return err
		}
		if old := r.Seq - alice.MaxRunsKeptPerTask; old >= 0 {
			if err := txn.Delete(runKey(r.TaskID, old)); err != nil {
				return err
			}
		}
	}
	return nil
}

func deletePrefix(txn *badger.Txn, prefix []byte) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	var keys [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	it.Close()
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Task implements persistence.TaskIndex.
func (s *Store) Task(_ context.Context, bot, id string) (alice.Task, alice.ConversationKey, error) {
	var it indexedTask
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(taskKey(bot, id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &it) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return alice.Task{}, alice.ConversationKey{}, alice.Errorf(alice.ENotFound, "task not found")
	}
	if err != nil {
		return alice.Task{}, alice.ConversationKey{}, storeError("read task "+id, err)
	}
	key, err := alice.ParseConversationKey(it.Key)
	if err != nil {
		return alice.Task{}, alice.ConversationKey{}, err
	}
	return it.Task, key, nil
}

// Tasks implements persistence.TaskIndex. It scans the bot's whole index:
// task ids sort by creation, so the scan is already in creation order.
func (s *Store) Tasks(_ context.Context, f persistence.TaskFilter, offset, limit int) ([]alice.Task, int, error) {
	out := []alice.Task{}
	total := 0
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefixTask + f.Bot + "/")
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var t indexedTask
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &t) }); err != nil {
				return err
			}
			if !matches(&t.Task, f) {
				continue
			}
			if total >= offset && len(out) < limit {
				out = append(out, t.Task)
			}
			total++
		}
		return nil
	})
	if err != nil {
		return nil, 0, storeError("list tasks", err)
	}
	return out, total, nil
}

func matches(t *alice.Task, f persistence.TaskFilter) bool {
	if f.Status != "" && t.Status != f.Status {
		return false
	}
	if f.Scope != nil && (t.ScopeType != f.Scope.Type || (f.Scope.ID != "" && t.ScopeID != f.Scope.ID)) {
		return false
	}
	return true
}

// Runs implements persistence.TaskIndex.
func (s *Store) Runs(_ context.Context, taskID string, offset, limit int) ([]alice.Run, int, error) {
	runs, total, err := listPage[alice.Run](s.db, runPrefix(taskID), offset, limit)
	if err != nil {
		return nil, 0, storeError("list runs of "+taskID, err)
	}
	return runs, total, nil
}

// listPage decodes the JSON values under prefix from offset, at most limit
// of them, in key order, and counts all keys under prefix. Only the page's
// values are read; the rest are counted from the keys.
func listPage[T any](db *badger.DB, prefix []byte, offset, limit int) ([]T, int, error) {
	out := []T{}
	total := 0
	err := db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if total >= offset && len(out) < limit {
				var v T
				if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &v) }); err != nil {
					return err
				}
				out = append(out, v)
			}
			total++
		}
		return nil
	})
	return out, total, err
}

// DueBy implements persistence.DueIndex with a key-only scan.
func (s *Store) DueBy(_ context.Context, t time.Time, limit int) ([]persistence.Due, error) {
	var out []persistence.Due
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte(prefixDue)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			d, err := parseDueKey(it.Item().Key())
			if err != nil {
				return err
			}
			if d.At.After(t) {
				break
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, storeError("scan due tasks", err)
	}
	return out, nil
}

// NextDue implements persistence.DueIndex by seeking past after.
func (s *Store) NextDue(_ context.Context, after time.Time) (time.Time, bool, error) {
	var at time.Time
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte(prefixDue)
		it := txn.NewIterator(opts)
		defer it.Close()
		it.Seek([]byte(fmt.Sprintf("%s%016x", prefixDue, after.UnixMilli()+1)))
		if !it.Valid() {
			return nil
		}
		d, err := parseDueKey(it.Item().Key())
		if err != nil {
			return err
		}
		at, found = d.At, true
		return nil
	})
	if err != nil {
		return time.Time{}, false, storeError("scan due tasks", err)
	}
	return at, found, nil
}

func parseDueKey(k []byte) (persistence.Due, error) {
	rest := strings.TrimPrefix(string(k), prefixDue)
	ms, rest, ok1 := strings.Cut(rest, "/")
	taskID, conv, ok2 := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(ms, 16, 64)
	if !ok1 || !ok2 || err != nil {
		return persistence.Due{}, fmt.Errorf("malformed due key %q", k)
	}
	key, err := alice.ParseConversationKey(conv)
	if err != nil {
		return persistence.Due{}, err
	}
	return persistence.Due{At: time.UnixMilli(n).UTC(), TaskID: taskID, Key: key}, nil
}
