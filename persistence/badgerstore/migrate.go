package badgerstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// The format version key holds formatCurrent once a data dir is in this
// format. On the way there it holds formatCleanup while the keys of format 1
// are being deleted, format2 until the records of format 2 have their
// version byte. Formats 3 to 5 differ from the current one only in how
// their task records may be written and in the index format 6 dropped, so
// they become it by deleting that index and recording it.
const (
	formatCurrent = "6"
	format5       = "5"
	format4       = "4"
	format3       = "3"
	format2       = "2"
	formatCleanup = "2-cleanup"
)

// Format 1 kept a conversation as one snapshot (goal and every task), and
// derived its indexes from it:
//
//	s/<bot>/<type>/<id>                      0x01 + {"goal": ..., "tasks": [...]}
//	t/<bot>/<task id>, d/...                 indexes (rebuilt, not read)
//	r/<task id>/<16 hex digits>              run records
//	m/<bot>/<type>/<id>/<om id>, mc/<om id>  outbox messages and bytes
//	mi/<bot>/<key>                           outbox idempotency keys (dropped)
var v1Families = []string{"s/", "t/", "d/", "r/", "m/", "mc/", "mi/"}

// v1Snapshot is format 1's snapshot.
type v1Snapshot struct {
	Goal  *alice.Goal `json:"goal"`
	Tasks []struct {
		alice.Task
		Recorded int `json:"recorded"`
		InFlight *struct {
			ScheduledAt time.Time `json:"scheduled_at"`
		} `json:"in_flight"`
	} `json:"tasks"`
}

// migrate brings the data dir to the current format, one step at a time,
// each safe to repeat after a crash and each ending by recording the format
// it reached:
//
//  1. from format 1, every key of format 2 is written from the format 1 keys
//     (which stay untouched), and the format becomes "2-cleanup";
//  2. the format 1 keys are deleted, and the format becomes "2";
//  3. the records that format 2 wrote as bare JSON (runs, outbox messages,
//     idempotency records) get their version byte, and the format becomes
//     "3";
//  4. from format 3, 4 or 5, the index of each conversation's tasks by
//     status (family C) is deleted, and the format becomes "6". Nothing
//     else is rewritten: the task records of formats 3 and 4 are JSON,
//     which this alice reads beside the compact records it writes
//     (taskrecord.go); one of format 3 holds its id and scope too, which
//     agree with its key. Recording "6" keeps an older alice, which would
//     miss the index, from opening the data dir.
func migrate(v *versions, log *slog.Logger) error {
	for {
		version, err := readVersion(v)
		if err != nil {
			return err
		}
		switch version {
		case formatCurrent:
			return nil
		case "":
			var old bool
			if old, err = hasV1Keys(v); err != nil {
				return err
			}
			if !old {
				return writeVersion(v, formatCurrent) // a new data dir
			}
			err = migrateV1(v, log)
		case formatCleanup:
			err = migrateCleanup(v, log)
		case format2:
			err = migrateV2(v, log)
		case format3, format4, format5:
			err = migrateV5(v, log)
		default:
			return fmt.Errorf("the data dir is in format %q, which this alice does not know (written by a newer alice?)", version)
		}
		if err != nil {
			return err
		}
	}
}

func readVersion(vs *versions) (string, error) {
	var v string
	err := vs.view(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte{famVersion})
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := item.ValueCopy(nil)
		v = string(b)
		return err
	})
	return v, err
}

func writeVersion(vs *versions, v string) error {
	return vs.update(func(txn *badger.Txn) error { return txn.Set([]byte{famVersion}, []byte(v)) })
}

func hasV1Keys(v *versions) (bool, error) {
	found := false
	err := v.view(func(txn *badger.Txn) error {
		for _, f := range v1Families {
			it := keyIterator(txn, []byte(f))
			it.Rewind()
			found = found || it.Valid()
			it.Close()
		}
		return nil
	})
	return found, err
}

// migrateV1 is the first phase: format 2 keys from format 1 ones.
func migrateV1(v *versions, log *slog.Logger) error {
	start := time.Now()
	log.Info("migrating the data dir from format 1 to format 2")
	wb, ts := v.batch()
	defer wb.Cancel()
	counters := map[counterID]int64{}
	apply := func(w *write) error {
		for _, o := range w.ops {
			if err := setOpBatch(wb, o); err != nil {
				return err
			}
		}
		for _, c := range w.counters {
			counters[c.id] += c.delta
		}
		return nil
	}
	headers := map[alice.ConversationKey]*alice.Header{}
	header := func(k alice.ConversationKey) *alice.Header {
		if h := headers[k]; h != nil {
			return h
		}
		h := &alice.Header{}
		headers[k] = h
		return h
	}
	var tasks, messages, runs int

	err := v.view(func(txn *badger.Txn) error {
		// Snapshots: the goal into the header, each task into its record.
		err := scanPrefix(txn, []byte("s/"), func(item *badger.Item, v []byte) error {
			k := item.Key()
			key, err := parseV1Conversation(string(k))
			if err != nil {
				return err
			}
			if len(v) == 0 || v[0] != 1 {
				return fmt.Errorf("snapshot %q: not format 1", k)
			}
			var snap v1Snapshot
			if err := json.Unmarshal(v[1:], &snap); err != nil {
				return fmt.Errorf("snapshot %q: %w", k, err)
			}
			h := header(key)
			h.Goal = snap.Goal
			change := &persistence.Change{}
			for _, t := range snap.Tasks {
				ts := &alice.TaskState{Task: t.Task, Recorded: t.Recorded}
				if t.InFlight != nil && !ts.Status.Terminal() {
					// Format 2 keeps an unrecorded occurrence's slot as the
					// task's next run: it is delivered again and runs
					// under the same occurrence id.
					slot := t.InFlight.ScheduledAt
					ts.NextRunAt = &slot
				}
				switch {
				case ts.Status == alice.TaskActive:
					ts.Due = ts.NextRunAt
				case ts.Status.Terminal():
					end := ts.UpdatedAt.Add(alice.DefaultTaskRetention)
					ts.Due = &end
				}
				h.Tasks.Add(ts.Status, 1)
				change.Tasks = append(change.Tasks, persistence.TaskWrite{Next: ts})
				tasks++
			}
			w, err := changeOps(key, change)
			if err != nil {
				return err
			}
			return apply(w)
		})
		if err != nil {
			return err
		}

		// Outbox messages, each under its own conversation now, with its
		// bytes beside it.
		err = scanPrefix(txn, []byte("m/"), func(item *badger.Item, v []byte) error {
			k := item.Key()
			rest := strings.TrimPrefix(string(k), "m/")
			slash := strings.LastIndexByte(rest, '/')
			if slash < 0 {
				return fmt.Errorf("message key %q: no message id", k)
			}
			key, err := parseV1Conversation(rest[:slash])
			if err != nil {
				return err
			}
			var m alice.Message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("message %q: %w", k, err)
			}
			mw := persistence.MessageWrite{Message: m}
			content, err := txn.Get([]byte("mc/" + m.ID))
			switch {
			case err == nil:
				if mw.Content, err = content.ValueCopy(nil); err != nil {
					return err
				}
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			h := header(key)
			h.Messages++
			if due := m.CreatedAt.Add(alice.DefaultOutboxMaxAge); h.OutboxDue == nil || due.Before(*h.OutboxDue) {
				h.OutboxDue = &due
			}
			messages++
			w, err := changeOps(key, &persistence.Change{Messages: []persistence.MessageWrite{mw}})
			if err != nil {
				return err
			}
			return apply(w)
		})
		if err != nil {
			return err
		}

		// Run records keep their task and number.
		return scanPrefix(txn, []byte("r/"), func(item *badger.Item, v []byte) error {
			k := item.Key()
			id, seqHex, ok := strings.Cut(strings.TrimPrefix(string(k), "r/"), "/")
			var seq int
			if _, err := fmt.Sscanf(seqHex, "%x", &seq); !ok || err != nil {
				return fmt.Errorf("run key %q: malformed", k)
			}
			runs++
			return setOpBatch(wb, op{key: runKey(id, seq), value: bytes.Clone(v)})
		})
	})
	if err != nil {
		return err
	}
	for key, h := range headers {
		w, err := changeOps(key, &persistence.Change{Header: h})
		if err != nil {
			return err
		}
		if err := apply(w); err != nil {
			return err
		}
	}
	for id, n := range counters {
		if err := wb.Set(id.key(), encodeCount(n)); err != nil {
			return err
		}
	}
	if err := finishStep(v, wb, ts, formatCleanup); err != nil {
		return err
	}
	log.Info("migrated the data dir to format 2", "conversations", len(headers), "tasks", tasks, "messages", messages, "runs", runs, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// finishStep records the format a migration step reached in the step's own
// batch, after everything else it wrote, and commits the batch: the format
// is on disk only if all the step wrote is.
func finishStep(v *versions, wb *badger.WriteBatch, ts uint64, format string) error {
	if err := wb.Set([]byte{famVersion}, []byte(format)); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	v.committed(ts)
	return nil
}

// migrateCleanup is the second phase: delete every format 1 key.
func migrateCleanup(v *versions, log *slog.Logger) error {
	for _, f := range v1Families {
		if err := v.db.DropPrefix([]byte(f)); err != nil {
			return fmt.Errorf("delete format 1 keys %s: %w", f, err)
		}
	}
	log.Info("deleted the format 1 keys")
	return writeVersion(v, format2)
}

// migrateV5 deletes the index of each conversation's tasks by status,
// which format 6 reads from the task records instead. A crash before the
// format is recorded deletes what is left of it again.
func migrateV5(v *versions, log *slog.Logger) error {
	if err := v.db.DropPrefix([]byte{famConvStatus}); err != nil {
		return fmt.Errorf("delete the conversation status index: %w", err)
	}
	log.Info("deleted the conversation status index of format 5")
	return writeVersion(v, formatCurrent)
}

// The families whose records format 2 wrote as bare JSON.
var v2BareFamilies = []byte{famRun, famMessage, famIdempotency}

// migrateV2 gives each record of format 2 that has no version byte one.
// Bare JSON starts with '{', never with the byte, so a record rewritten
// before a crash is not rewritten again. Idempotency records keep their
// expiry.
func migrateV2(v *versions, log *slog.Logger) error {
	start := time.Now()
	wb, ts := v.batch()
	defer wb.Cancel()
	n := 0
	err := v.view(func(txn *badger.Txn) error {
		for _, f := range v2BareFamilies {
			err := scanPrefix(txn, []byte{f}, func(item *badger.Item, b []byte) error {
				if len(b) == 0 || b[0] != '{' {
					return nil
				}
				e := badger.NewEntry(item.KeyCopy(nil), append([]byte{recordV2}, b...))
				e.ExpiresAt = item.ExpiresAt()
				n++
				if err := wb.SetEntry(e); err != nil {
					return fmt.Errorf("version byte for %q: %w", item.Key(), err)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := finishStep(v, wb, ts, format3); err != nil {
		return err
	}
	log.Info("migrated the data dir to format 3", "records", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// scanPrefix calls fn with each item under prefix and its value; fn must
// copy what it keeps.
func scanPrefix(txn *badger.Txn, prefix []byte, fn func(item *badger.Item, v []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if err := item.Value(func(v []byte) error { return fn(item, v) }); err != nil {
			return err
		}
	}
	return nil
}

// parseV1Conversation reads format 1's "<bot>/<type>/<id>"; a bot id has no
// "/", and the scope id is the rest, so the form is unambiguous.
func parseV1Conversation(s string) (alice.ConversationKey, error) {
	s = strings.TrimPrefix(s, "s/")
	bot, rest, ok1 := strings.Cut(s, "/")
	typ, id, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || bot == "" || (typ != string(alice.ScopeChat) && typ != string(alice.ScopeUser)) || id == "" {
		return alice.ConversationKey{}, fmt.Errorf("format 1 conversation key %q: want bot/type/id", s)
	}
	return alice.ConversationKey{Bot: bot, Scope: alice.Scope{Type: alice.ScopeType(typ), ID: id}}, nil
}

func setOpBatch(wb *badger.WriteBatch, o op) error {
	if o.delete {
		return wb.Delete(o.key)
	}
	return wb.Set(o.key, o.value)
}
