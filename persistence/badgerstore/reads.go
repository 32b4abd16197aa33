package badgerstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// getRecord decodes the record at k into v and reports whether it exists.
func getRecord(txn *badger.Txn, k []byte, v any) (bool, error) {
	return getValue(txn, k, func(b []byte) error { return decodeRecord(b, v) })
}

// getTask reads the record of task id in conversation key into ts and
// reports whether it exists.
func getTask(txn *badger.Txn, key alice.ConversationKey, id string, ts *alice.TaskState) (bool, error) {
	return getValue(txn, convKey(famTask, key, id), func(b []byte) error { return decodeTask(b, key, id, ts) })
}

// getValue calls decode with the value at k and reports whether it exists.
func getValue(txn *badger.Txn, k []byte, decode func([]byte) error) (bool, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, item.Value(decode)
}

// keyIterator iterates the keys under prefix without fetching values
// ahead: most scans read keys only, and the others few of the values.
func keyIterator(txn *badger.Txn, prefix []byte) *badger.Iterator {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	return txn.NewIterator(opts)
}

// errStopScan ends a scan early without error.
var errStopScan = errors.New("stop scan")

// scanKeys calls fn with the rest of every key under prefix, in order,
// without reading values.
func scanKeys(txn *badger.Txn, prefix []byte, fn func(rest []byte) error) error {
	it := keyIterator(txn, prefix)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := fn(it.Item().Key()[len(prefix):]); err != nil {
			if errors.Is(err, errStopScan) {
				return nil
			}
			return err
		}
	}
	return nil
}

// scanTasks calls fn with the id and record of each task of conversation
// key whose status is one of statuses, in the order of their ids
// (creation). Of the others it reads only the status.
func scanTasks(txn *badger.Txn, key alice.ConversationKey, statuses []alice.TaskStatus, fn func(id string, v []byte) error) error {
	prefix := convKey(famTask, key)
	it := keyIterator(txn, prefix)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		err := it.Item().Value(func(v []byte) error {
			status, err := taskRecordStatus(v)
			if err != nil || !slices.Contains(statuses, status) {
				return err
			}
			id, _, err := readPart(it.Item().Key()[len(prefix):])
			if err != nil {
				return err
			}
			return fn(id, v)
		})
		if errors.Is(err, errStopScan) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// scanValues calls fn with the rest of each key under prefix and its
// value, from offset, at most limit of them; the keys before offset are
// skipped unread.
func scanValues(txn *badger.Txn, prefix []byte, offset, limit int, fn func(rest, v []byte) error) error {
	it := keyIterator(txn, prefix)
	defer it.Close()
	i := 0
	for it.Rewind(); it.Valid() && i < offset+limit; it.Next() {
		if i >= offset {
			rest := it.Item().Key()[len(prefix):]
			if err := it.Item().Value(func(v []byte) error { return fn(rest, v) }); err != nil {
				return err
			}
		}
		i++
	}
	return nil
}

// scanRecords decodes the records under prefix, from offset, at most limit
// of them.
func scanRecords[T any](txn *badger.Txn, prefix []byte, offset, limit int) ([]T, error) {
	out := []T{}
	err := scanValues(txn, prefix, offset, limit, func(_, v []byte) error {
		var x T
		if err := decodeRecord(v, &x); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

// countKeys counts the keys under prefix.
func countKeys(txn *badger.Txn, prefix []byte) (int, error) {
	n := 0
	err := scanKeys(txn, prefix, func([]byte) error { n++; return nil })
	return n, err
}

// Task implements persistence.TaskReader.
func (s *Store) Task(_ context.Context, bot, id string) (*alice.TaskState, alice.ConversationKey, error) {
	var ts alice.TaskState
	var key alice.ConversationKey
	err := s.versions.view(func(txn *badger.Txn) error {
		var err error
		if key, err = taskOwner(txn, bot, id); err != nil {
			return err
		}
		return getIndexedTask(txn, key, id, &ts)
	})
	if err != nil {
		return nil, alice.ConversationKey{}, storeError("read task", err)
	}
	return &ts, key, nil
}

// getIndexedTask reads the record of a task that an index names; a
// missing one is an inconsistent store, not a task that is not there.
func getIndexedTask(txn *badger.Txn, key alice.ConversationKey, id string, ts *alice.TaskState) error {
	found, err := getTask(txn, key, id, ts)
	if err == nil && !found {
		err = errors.New("task " + id + " is indexed but has no record")
	}
	return err
}

func taskOwner(txn *badger.Txn, bot, id string) (alice.ConversationKey, error) {
	item, err := txn.Get(tupleKey(famTaskID, bot, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return alice.ConversationKey{}, errTaskNotFound
	}
	if err != nil {
		return alice.ConversationKey{}, err
	}
	var key alice.ConversationKey
	err = item.Value(func(v []byte) (err error) {
		key, err = decodeConv(v)
		return err
	})
	return key, err
}

// Tasks implements persistence.TaskReader. A scope's tasks are read from
// its own keys, with the total from its header. A bot-wide listing walks an
// index in creation order without reading the records it skips, and takes
// its total from the bot's counters; filtering by scope type alone reads the
// small owner value of each entry it passes.
func (s *Store) Tasks(_ context.Context, bot string, f alice.TaskFilter, p alice.Page) ([]alice.Task, int, error) {
	out := []alice.Task{}
	total := 0
	err := s.versions.view(func(txn *badger.Txn) error {
		appendTask := func(key alice.ConversationKey, id string, v []byte) error {
			var ts alice.TaskState
			if err := decodeTask(v, key, id, &ts); err != nil {
				return err
			}
			out = append(out, ts.Task)
			return nil
		}
		if f.ScopeID != "" {
			key := alice.ConversationKey{Bot: bot, Scope: alice.Scope{Type: f.ScopeType, ID: f.ScopeID}}
			var h alice.Header
			if _, err := getRecord(txn, convKey(famHeader, key), &h); err != nil {
				return err
			}
			if f.Status == "" {
				total = h.Tasks.Total()
				return scanValues(txn, convKey(famTask, key), p.Offset, p.Limit, func(rest, v []byte) error {
					id, _, err := readPart(rest)
					if err != nil {
						return err
					}
					return appendTask(key, id, v)
				})
			}
			total = h.Tasks.Of(f.Status)
			i := 0
			return scanTasks(txn, key, []alice.TaskStatus{f.Status}, func(id string, v []byte) error {
				if i >= p.Offset+p.Limit {
					return errStopScan
				}
				if i++; i <= p.Offset {
					return nil
				}
				return appendTask(key, id, v)
			})
		}

		n, err := readCounter(txn, bot, filterCounter(f))
		if err != nil {
			return err
		}
		total = int(n)
		prefix := tupleKey(famTaskID, bot)
		if f.Status != "" {
			prefix = tupleKey(famBotStatus, bot, string(f.Status))
		}
		type entry struct {
			key alice.ConversationKey
			id  string
		}
		var page []entry
		it := keyIterator(txn, prefix)
		defer it.Close()
		skipped := 0
		for it.Rewind(); it.Valid() && len(page) < p.Limit; it.Next() {
			var key alice.ConversationKey
			readOwner := func() error {
				return it.Item().Value(func(v []byte) (err error) {
					key, err = decodeConv(v)
					return err
				})
			}
			if f.ScopeType != "" {
				if err := readOwner(); err != nil {
					return err
				}
				if key.Scope.Type != f.ScopeType {
					continue
				}
			}
			if skipped < p.Offset {
				skipped++
				continue
			}
			if f.ScopeType == "" {
				if err := readOwner(); err != nil {
					return err
				}
			}
			id, _, err := readPart(it.Item().Key()[len(prefix):])
			if err != nil {
				return err
			}
			page = append(page, entry{key, id})
		}
		for _, e := range page {
			var ts alice.TaskState
			if err := getIndexedTask(txn, e.key, e.id, &ts); err != nil {
				return err
			}
			out = append(out, ts.Task)
		}
		return nil
	})
	if err != nil {
		return nil, 0, storeError("list tasks", err)
	}
	return out, total, nil
}

func readCounter(txn *badger.Txn, bot, name string) (int64, error) {
	return readCount(txn, counterID{bot, name}.key())
}

// readCount reads the counter at k; an absent counter is 0.
func readCount(txn *badger.Txn, k []byte) (int64, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n int64
	err = item.Value(func(v []byte) (err error) {
		n, err = decodeCount(v)
		return err
	})
	return n, err
}

// Runs implements persistence.TaskReader.
func (s *Store) Runs(_ context.Context, taskID string, p alice.Page) ([]alice.Run, int, error) {
	var runs []alice.Run
	total := 0
	err := s.versions.view(func(txn *badger.Txn) (err error) {
		prefix := tupleKey(famRun, taskID)
		if total, err = countKeys(txn, prefix); err != nil {
			return err
		}
		runs, err = scanRecords[alice.Run](txn, prefix, p.Offset, p.Limit)
		return err
	})
	if err != nil {
		return nil, 0, storeError("list runs of "+taskID, err)
	}
	return runs, total, nil
}

// Messages implements persistence.MessageReader.
func (s *Store) Messages(_ context.Context, key alice.ConversationKey, p alice.Page) ([]alice.Message, int, error) {
	var out []alice.Message
	total := 0
	err := s.versions.view(func(txn *badger.Txn) (err error) {
		var h alice.Header
		if _, err := getRecord(txn, convKey(famHeader, key), &h); err != nil {
			return err
		}
		total = h.Messages
		out, err = scanRecords[alice.Message](txn, convKey(famMessage, key), p.Offset, p.Limit)
		return err
	})
	if err != nil {
		return nil, 0, storeError("list messages", err)
	}
	return out, total, nil
}

var errMessageNotFound = &alice.Error{Code: alice.ENotFound, Message: "message not found"}

// MessageContent implements persistence.MessageReader.
func (s *Store) MessageContent(_ context.Context, key alice.ConversationKey, id string) (*alice.Message, []byte, error) {
	var m alice.Message
	var content []byte
	err := s.versions.view(func(txn *badger.Txn) error {
		item, err := txn.Get(convKey(famMessage, key, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return errMessageNotFound
		}
		if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error { return decodeRecord(v, &m) }); err != nil {
			return err
		}
		item, err = txn.Get(convKey(famContent, key, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		content, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, nil, storeError("read message "+id, err)
	}
	return &m, content, nil
}

// DueBy implements persistence.DueIndex with a key-only scan.
func (s *Store) DueBy(_ context.Context, from, to time.Time, after *persistence.Due, limit int) ([]persistence.Due, error) {
	var out []persistence.Due
	err := s.versions.view(func(txn *badger.Txn) error {
		it := keyIterator(txn, []byte{famDue})
		defer it.Close()
		start := appendTime([]byte{famDue}, from)
		if after != nil {
			start = append(dueKey(after.At, after.Key, after.Kind, after.ID), 0) // just past it
		}
		for it.Seek(start); it.Valid() && len(out) < limit; it.Next() {
			d, err := parseDueKey(it.Item().Key())
			if err != nil {
				return err
			}
			if d.At.After(to) {
				break
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, storeError("scan due entries", err)
	}
	return out, nil
}

// NextDue implements persistence.DueIndex by seeking past after.
func (s *Store) NextDue(_ context.Context, after time.Time) (time.Time, bool, error) {
	var at time.Time
	found := false
	err := s.versions.view(func(txn *badger.Txn) error {
		it := keyIterator(txn, []byte{famDue})
		defer it.Close()
		it.Seek(appendTime([]byte{famDue}, after.Add(time.Millisecond)))
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
		return time.Time{}, false, storeError("scan due entries", err)
	}
	return at, found, nil
}

func parseDueKey(k []byte) (persistence.Due, error) {
	if len(k) == 0 || k[0] != famDue {
		return persistence.Due{}, errMalformedKey
	}
	at, rest, err := readTime(k[1:])
	if err != nil {
		return persistence.Due{}, err
	}
	key, rest, err := readConv(rest)
	if err != nil {
		return persistence.Due{}, err
	}
	kind, rest, err := readPart(rest)
	if err != nil {
		return persistence.Due{}, err
	}
	id, rest, err := readPart(rest)
	if err != nil || len(rest) > 0 {
		return persistence.Due{}, errMalformedKey
	}
	return persistence.Due{At: at, Key: key, Kind: persistence.DueKind(kind), ID: id}, nil
}

// Totals are a bot's counts, kept by every commit, for metrics.
type Totals struct {
	Conversations int64 // with anything stored: a goal, tasks or messages
	Messages      int64 // in the local outboxes
	Tasks         int64 // of every status
}

// Totals reads a bot's counts: three counter reads, whatever the size of
// the store.
func (s *Store) Totals(_ context.Context, bot string) (Totals, error) {
	var t Totals
	err := s.versions.view(func(txn *badger.Txn) (err error) {
		for _, c := range []struct {
			name string
			n    *int64
		}{{conversationsCounter, &t.Conversations}, {messagesCounter, &t.Messages}, {"all", &t.Tasks}} {
			if *c.n, err = readCounter(txn, bot, c.name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Totals{}, storeError("read totals", err)
	}
	return t, nil
}
