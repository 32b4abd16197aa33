package badgerstore

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// maxProblems bounds what Check reports; one broken invariant tends to
// repeat.
const maxProblems = 100

// CheckReport is what Check found.
type CheckReport struct {
	Conversations, Tasks, Runs, Messages, DueEntries int
	Problems                                         []string // empty when the store is consistent
	Truncated                                        bool     // more problems than listed
}

// Check opens the data dir's store on its own (no server may be running on
// it) and verifies that every index entry has its record and every record
// its index entries, that headers count what they hold, and that the bots'
// counters agree with the tasks, and that every record decodes. A store in
// an older format is migrated first.
func Check(dir string, log *slog.Logger) (*CheckReport, error) {
	v, err := openMigrated(dir, log)
	if err != nil {
		return nil, err
	}
	defer v.db.Close()
	r := &CheckReport{}
	err = v.view(func(txn *badger.Txn) error { return (&checker{txn: txn, r: r}).run() })
	return r, err
}

type checker struct {
	txn *badger.Txn
	r   *CheckReport
}

func (c *checker) problem(format string, args ...any) {
	if len(c.r.Problems) >= maxProblems {
		c.r.Truncated = true
		return
	}
	c.r.Problems = append(c.r.Problems, fmt.Sprintf(format, args...))
}

// each calls fn with the rest of every key of family f and its value.
func (c *checker) each(f byte, fn func(rest, v []byte)) error {
	it := keyIterator(c.txn, []byte{f})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		fn(it.Item().KeyCopy(nil)[1:], v)
	}
	return nil
}

func (c *checker) exists(k []byte) bool {
	_, err := c.txn.Get(k)
	return err == nil
}

func (c *checker) run() error {
	type taskRef struct {
		key alice.ConversationKey
		ts  alice.TaskState
	}
	tasks := map[string]taskRef{} // by bot + id
	headers := map[alice.ConversationKey]alice.Header{}
	counted := map[alice.ConversationKey]map[alice.TaskStatus]int{}
	messages := map[alice.ConversationKey]int{}
	counters := map[string]int64{}

	err := c.each(famHeader, func(rest, v []byte) {
		key, _, err := readConv(rest)
		var h alice.Header
		if err == nil {
			err = decodeRecord(v, &h)
		}
		if err != nil {
			c.problem("header %q: %v", rest, err)
			return
		}
		headers[key] = h
		c.r.Conversations++
		if !h.Empty() {
			counters[string(counterID{key.Bot, conversationsCounter}.key())]++
		}
		if h.Messages != 0 {
			counters[string(counterID{key.Bot, messagesCounter}.key())] += int64(h.Messages)
		}
		if d := h.OutboxDue; d != nil && !c.exists(dueKey(*d, key, persistence.DueOutbox, "")) {
			c.problem("conversation %s: its outbox is due at %s, with no due entry", key, d.Format(time.RFC3339))
		}
		if d := goalWake(h.Goal); d != nil && !c.exists(dueKey(*d, key, persistence.DueGoalWake, "")) {
			c.problem("conversation %s: its goal's next turn is due at %s, with no due entry", key, d.Format(time.RFC3339))
		}
		if d := goalDeadline(h.Goal); d != nil && !c.exists(dueKey(*d, key, persistence.DueGoalDeadline, "")) {
			c.problem("conversation %s: its goal's deadline is %s, with no due entry", key, d.Format(time.RFC3339))
		}
	})
	if err != nil {
		return err
	}

	err = c.each(famTask, func(rest, v []byte) {
		key, tail, err := readConv(rest)
		var id string
		if err == nil {
			id, _, err = readPart(tail)
		}
		var ts alice.TaskState
		if err == nil {
			err = decodeTaskRecord(v, &ts)
		}
		if err != nil {
			c.problem("task record %q: %v", rest, err)
			return
		}
		c.r.Tasks++
		if err := fillTask(&ts, key, id); err != nil {
			c.problem("%v", err)
		}
		tasks[key.Bot+"\x00"+id] = taskRef{key, ts}
		if counted[key] == nil {
			counted[key] = map[alice.TaskStatus]int{}
		}
		counted[key][ts.Status]++
		for _, name := range counterNames(&ts.Task) {
			counters[string(counterID{key.Bot, name}.key())]++
		}
		if _, ok := headers[key]; !ok {
			c.problem("task %s: conversation %s has no header", id, key)
		}
		if owner, err := taskOwner(c.txn, key.Bot, id); err != nil || owner != key {
			c.problem("task %s: its id index entry is missing or names another conversation", id)
		}
		if !c.exists(tupleKey(famBotStatus, key.Bot, string(ts.Status), id)) {
			c.problem("task %s: no status index entry for %s", id, ts.Status)
		}
		if ts.Due != nil && !c.exists(dueKey(*ts.Due, key, persistence.DueTask, id)) {
			c.problem("task %s: due at %s, with no due entry", id, ts.Due.Format(time.RFC3339Nano))
		}
		if ts.Status == alice.TaskActive && ts.Due == nil {
			c.problem("task %s: active, and never due", id)
		}
	})
	if err != nil {
		return err
	}
	for key, h := range headers {
		for _, s := range alice.TaskStatuses() {
			if h.Tasks.Of(s) != counted[key][s] {
				c.problem("conversation %s: its header counts %d %s tasks, it has %d", key, h.Tasks.Of(s), s, counted[key][s])
			}
		}
	}

	// Every index entry has its record.
	err = c.each(famTaskID, func(rest, v []byte) {
		bot, rest, err1 := readPart(rest)
		id, _, err2 := readPart(rest)
		if err1 != nil || err2 != nil {
			c.problem("id index key %q is malformed", rest)
			return
		}
		if _, ok := tasks[bot+"\x00"+id]; !ok {
			c.problem("id index names task %s of bot %s, which has no record", id, bot)
		}
	})
	if err != nil {
		return err
	}
	err = c.each(famBotStatus, func(rest, _ []byte) {
		bot, rest, err1 := readPart(rest)
		status, rest, err2 := readPart(rest)
		id, _, err3 := readPart(rest)
		if err1 != nil || err2 != nil || err3 != nil {
			c.problem("status index key %q is malformed", rest)
			return
		}
		if t, ok := tasks[bot+"\x00"+id]; !ok || string(t.ts.Status) != status {
			c.problem("status index puts task %s of bot %s in %s, which its record does not", id, bot, status)
		}
	})
	if err != nil {
		return err
	}
	err = c.each(famConvStatus, func(rest, _ []byte) {
		c.problem("conversation status key %q is left from format 5", rest)
	})
	if err != nil {
		return err
	}
	err = c.each(famDue, func(rest, _ []byte) {
		d, err := parseDueKey(append([]byte{famDue}, rest...))
		if err != nil {
			c.problem("due key %q is malformed", rest)
			return
		}
		c.r.DueEntries++
		var want *time.Time
		switch d.Kind {
		case persistence.DueTask:
			if t, ok := tasks[d.Key.Bot+"\x00"+d.ID]; ok && t.key == d.Key {
				want = t.ts.Due
			}
		case persistence.DueOutbox:
			h := headers[d.Key]
			want = h.OutboxDue
		case persistence.DueGoalWake:
			want = goalWake(headers[d.Key].Goal)
		case persistence.DueGoalDeadline:
			want = goalDeadline(headers[d.Key].Goal)
		}
		if !sameDue(want, &d.At) {
			c.problem("due entry %s %s of %s at %s has no record due then", d.Kind, d.ID, d.Key, d.At.Format(time.RFC3339Nano))
		}
	})
	if err != nil {
		return err
	}
	byID := map[string]alice.TaskState{} // run keys hold no bot; task ids are unique across bots
	for _, t := range tasks {
		byID[t.ts.ID] = t.ts
	}
	err = c.each(famRun, func(rest, v []byte) {
		id, tail, err := readPart(rest)
		if err != nil || len(tail) != 8 {
			c.problem("run key %q is malformed", rest)
			return
		}
		c.r.Runs++
		seq := int(binary.BigEndian.Uint64(tail))
		if err := decodeRecord(v, &alice.Run{}); err != nil {
			c.problem("run record %d of task %s: %v", seq, id, err)
		}
		t, ok := byID[id]
		switch {
		case !ok:
			c.problem("run record %d of task %s, which has no record", seq, id)
		case seq >= t.Recorded:
			c.problem("run record %d of task %s, which has recorded only %d", seq, id, t.Recorded)
		}
	})
	if err != nil {
		return err
	}
	err = c.each(famMessage, func(rest, v []byte) {
		key, tail, err := readConv(rest)
		var id string
		if err == nil {
			id, _, err = readPart(tail)
		}
		if err != nil {
			c.problem("message key %q is malformed", rest)
			return
		}
		c.r.Messages++
		messages[key]++
		var m alice.Message
		switch err := decodeRecord(v, &m); {
		case err != nil:
			c.problem("message %s in %s: %v", id, key, err)
		case m.ID != id:
			c.problem("message record %s in %s holds message %s", id, key, m.ID)
		}
	})
	if err != nil {
		return err
	}
	err = c.each(famIdempotency, func(rest, v []byte) {
		if err := decodeRecord(v, &idempotencyRecord{}); err != nil {
			c.problem("idempotency record %q: %v", rest, err)
		}
	})
	if err != nil {
		return err
	}
	for key, h := range headers {
		if h.Messages != messages[key] {
			c.problem("conversation %s: its header counts %d outbox messages, it has %d", key, h.Messages, messages[key])
		}
	}
	err = c.each(famContent, func(rest, _ []byte) {
		key, rest, err := readConv(rest)
		var id string
		if err == nil {
			id, _, err = readPart(rest)
		}
		if err != nil || !c.exists(convKey(famMessage, key, id)) {
			c.problem("message bytes of %s in %s, with no message", id, key)
		}
	})
	if err != nil {
		return err
	}
	stored := map[string]int64{}
	err = c.each(famCounter, func(rest, v []byte) {
		n, err := decodeCount(v)
		if err != nil {
			c.problem("counter %q: %v", rest, err)
			return
		}
		stored[string(append([]byte{famCounter}, rest...))] = n
	})
	if err != nil {
		return err
	}
	for k, n := range counters {
		if stored[k] != n {
			c.problem("counter %q holds %d, the records count %d", k[1:], stored[k], n)
		}
	}
	for k, n := range stored {
		if _, ok := counters[k]; !ok && n != 0 {
			c.problem("counter %q holds %d, and no record counts toward it", k[1:], n)
		}
	}
	return nil
}
