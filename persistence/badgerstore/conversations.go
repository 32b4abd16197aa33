package badgerstore

import (
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// Load reads the conversation's header; a conversation never written loads
// as the zero Header.
func (s *Store) Load(_ context.Context, key alice.ConversationKey) (alice.Header, error) {
	var h alice.Header
	err := s.versions.view(func(txn *badger.Txn) error {
		_, err := getRecord(txn, convKey(famHeader, key), &h)
		return err
	})
	if err != nil {
		return alice.Header{}, storeError("load conversation "+key.String(), err)
	}
	return h, nil
}

// Commit implements persistence.ConversationStore through the group
// committer.
func (s *Store) Commit(_ context.Context, key alice.ConversationKey, c *persistence.Change) error {
	if c.Empty() {
		return nil
	}
	w, err := changeOps(key, c)
	if err != nil {
		return err
	}
	if err := s.committer.submit(w); err != nil {
		return storeError("commit conversation "+key.String(), err)
	}
	return nil
}

// changeOps turns a change into the records, index entries and counter
// deltas it implies; deriving them here, from the same change, is what keeps
// every index in step with its records.
func changeOps(key alice.ConversationKey, c *persistence.Change) (*write, error) {
	w := &write{ops: make([]op, 0, 16)}
	set := func(k, v []byte) { w.ops = append(w.ops, op{key: k, value: v}) }
	del := func(k []byte) { w.ops = append(w.ops, op{key: k, delete: true}) }
	count := func(name string, delta int) {
		if delta == 0 {
			return
		}
		if w.counters == nil {
			w.counters = make([]counterDelta, 0, 8) // a status change moves eight
		}
		w.counters = append(w.counters, counterDelta{id: counterID{key.Bot, name}, delta: int64(delta)})
	}
	due := func(kind persistence.DueKind, id string, was, now *time.Time) {
		if sameDue(was, now) {
			return
		}
		if was != nil {
			del(dueKey(*was, key, kind, id))
		}
		if now != nil {
			set(dueKey(*now, key, kind, id), nil)
		}
	}

	if c.Header != nil {
		prev := c.PrevHeader
		if prev == nil {
			prev = &alice.Header{}
		}
		if c.Header.Empty() {
			del(convKey(famHeader, key))
		} else {
			v, err := encodeRecord(c.Header)
			if err != nil {
				return nil, err
			}
			set(convKey(famHeader, key), v)
		}
		switch {
		case prev.Empty() && !c.Header.Empty():
			count(conversationsCounter, +1)
		case !prev.Empty() && c.Header.Empty():
			count(conversationsCounter, -1)
		}
		count(messagesCounter, c.Header.Messages-prev.Messages)
		due(persistence.DueOutbox, "", prev.OutboxDue, c.Header.OutboxDue)
		due(persistence.DueGoalWake, "", goalWake(prev.Goal), goalWake(c.Header.Goal))
		due(persistence.DueGoalDeadline, "", goalDeadline(prev.Goal), goalDeadline(c.Header.Goal))
	}

	for _, tw := range c.Tasks {
		prev, next := tw.Prev, tw.Next
		t := next
		if t == nil {
			t = prev
		}
		if t == nil {
			continue
		}
		id := t.ID
		if next != nil {
			v, err := encodeTask(next)
			if err != nil {
				return nil, err
			}
			set(convKey(famTask, key, id), v)
		} else {
			del(convKey(famTask, key, id))
			for seq := max(prev.Recorded-alice.MaxRunsKeptPerTask, 0); seq < prev.Recorded; seq++ {
				del(runKey(id, seq))
			}
		}
		switch {
		case prev == nil:
			set(tupleKey(famTaskID, key.Bot, id), encodeConv(key))
		case next == nil:
			del(tupleKey(famTaskID, key.Bot, id))
		}
		if prev == nil || next == nil || prev.Status != next.Status {
			if prev != nil {
				del(tupleKey(famBotStatus, key.Bot, string(prev.Status), id))
				for _, name := range counterNames(&prev.Task) {
					count(name, -1)
				}
			}
			if next != nil {
				set(tupleKey(famBotStatus, key.Bot, string(next.Status), id), encodeConv(key))
				for _, name := range counterNames(&next.Task) {
					count(name, +1)
				}
			}
		}
		var was, now *time.Time
		if prev != nil {
			was = prev.Due
		}
		if next != nil {
			now = next.Due
		}
		due(persistence.DueTask, id, was, now)
	}

	for _, r := range c.Runs {
		v, err := encodeRecord(r.Run)
		if err != nil {
			return nil, err
		}
		set(runKey(r.TaskID, r.Seq), v)
		if old := r.Seq - alice.MaxRunsKeptPerTask; old >= 0 {
			del(runKey(r.TaskID, old))
		}
	}

	for _, m := range c.Messages {
		v, err := encodeRecord(m.Message)
		if err != nil {
			return nil, err
		}
		set(convKey(famMessage, key, m.Message.ID), v)
		if len(m.Content) > 0 {
			set(convKey(famContent, key, m.Message.ID), m.Content)
		}
	}
	for _, id := range c.DeletedMessages {
		del(convKey(famMessage, key, id))
		del(convKey(famContent, key, id))
	}

	for _, r := range c.Idempotency {
		v, err := encodeRecord(idempotencyRecord{Fingerprint: r.Fingerprint, Answer: r.Answer})
		if err != nil {
			return nil, err
		}
		w.ops = append(w.ops, op{key: convKey(famIdempotency, key, r.Key), value: v, expires: r.Expires})
	}
	return w, nil
}

// goalWake is when a goal's next turn is due, nil when never.
func goalWake(g *alice.Goal) *time.Time {
	if g == nil {
		return nil
	}
	return g.NextWakeAt
}

// goalDeadline is when a goal times out, nil when never.
func goalDeadline(g *alice.Goal) *time.Time {
	if g == nil {
		return nil
	}
	return g.DeadlineAt
}

func sameDue(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UnixMilli() == b.UnixMilli()
}

// TaskRecord implements persistence.ConversationStore.
func (s *Store) TaskRecord(_ context.Context, key alice.ConversationKey, id string) (*alice.TaskState, error) {
	ts := new(alice.TaskState)
	var found bool
	err := s.versions.view(func(txn *badger.Txn) (err error) {
		found, err = getTask(txn, key, id, ts)
		return err
	})
	if err != nil {
		return nil, storeError("read task "+id, err)
	}
	if !found {
		return nil, errTaskNotFound
	}
	return ts, nil
}

var errTaskNotFound = &alice.Error{Code: alice.ENotFound, Message: "task not found"}

// OldestFinished implements persistence.ConversationStore: the oldest of the
// completed and cancelled tasks, by id (creation). The conversation's
// records are in that order, so it reads them from the oldest until it has
// n.
func (s *Store) OldestFinished(_ context.Context, key alice.ConversationKey, n int) ([]string, error) {
	var ids []string
	err := s.versions.view(func(txn *badger.Txn) error {
		return scanTasks(txn, key, []alice.TaskStatus{alice.TaskCompleted, alice.TaskCancelled}, func(id string, _ []byte) error {
			if len(ids) == n {
				return errStopScan
			}
			ids = append(ids, id)
			return nil
		})
	})
	if err != nil {
		return nil, storeError("list finished tasks", err)
	}
	return ids, nil
}

// OldestMessages implements persistence.ConversationStore.
func (s *Store) OldestMessages(_ context.Context, key alice.ConversationKey, n int) ([]alice.Message, error) {
	var out []alice.Message
	err := s.versions.view(func(txn *badger.Txn) (err error) {
		out, err = scanRecords[alice.Message](txn, convKey(famMessage, key), 0, n)
		return err
	})
	if err != nil {
		return nil, storeError("list oldest messages", err)
	}
	return out, nil
}

// Idempotency implements persistence.ConversationStore.
func (s *Store) Idempotency(_ context.Context, key alice.ConversationKey, k string) (*persistence.IdempotencyRecord, error) {
	var rec *persistence.IdempotencyRecord
	err := s.versions.view(func(txn *badger.Txn) error {
		item, err := txn.Get(convKey(famIdempotency, key, k))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var r idempotencyRecord
		if err := item.Value(func(v []byte) error { return decodeRecord(v, &r) }); err != nil {
			return err
		}
		rec = &persistence.IdempotencyRecord{Key: k, Fingerprint: r.Fingerprint, Answer: r.Answer, Expires: time.Unix(int64(item.ExpiresAt()), 0)}
		return nil
	})
	if err != nil {
		return nil, storeError("read idempotency key", err)
	}
	return rec, nil
}
