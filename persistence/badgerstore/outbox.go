package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/messenger/outbox"
)

// Outbox keys:
//
//	m/<bot>/<type>/<id>/<om id>   message metadata (ids sort by creation)
//	mc/<om id>                    message bytes
//	mi/<bot>/<idempotency key>    om id of the message sent with that key
const (
	prefixMessage     = "m/"
	prefixContent     = "mc/"
	prefixIdempotency = "mi/"
	// idempotencyTTL bounds how long a key is remembered, and so the index's
	// size. A retry after a crash comes within minutes.
	idempotencyTTL = 7 * 24 * time.Hour
)

var _ outbox.Store = (*Store)(nil)

func messagePrefix(bot string, scope alice.Scope) []byte {
	return []byte(prefixMessage + bot + "/" + scope.String() + "/")
}

// PutMessage implements outbox.Store. When keep > 0, the conversation's
// oldest messages beyond keep are deleted in the same transaction.
func (s *Store) PutMessage(_ context.Context, bot string, scope alice.Scope, it outbox.Item, content []byte, idempotencyKey string, keep int) (string, error) {
	id := it.ID
	meta, err := json.Marshal(it)
	if err != nil {
		return "", err
	}
	for attempt := 0; ; attempt++ {
		err = s.db.Update(func(txn *badger.Txn) error {
			if idempotencyKey != "" {
				ikey := []byte(prefixIdempotency + bot + "/" + idempotencyKey)
				item, err := txn.Get(ikey)
				if err == nil {
					return item.Value(func(v []byte) error { id = string(v); return nil })
				}
				if !errors.Is(err, badger.ErrKeyNotFound) {
					return err
				}
				if err := txn.SetEntry(badger.NewEntry(ikey, []byte(it.ID)).WithTTL(idempotencyTTL)); err != nil {
					return err
				}
			}
			if err := txn.Set(append(messagePrefix(bot, scope), it.ID...), meta); err != nil {
				return err
			}
			if len(content) > 0 {
				if err := txn.Set([]byte(prefixContent+it.ID), content); err != nil {
					return err
				}
			}
			if keep > 0 {
				return trimConversation(txn, messagePrefix(bot, scope), keep)
			}
			return nil
		})
		// Two sends with one key at once: one commits, the other retries and
		// finds the key.
		if errors.Is(err, badger.ErrConflict) && attempt < 3 {
			id = it.ID
			continue
		}
		break
	}
	if err != nil {
		return "", storeError("store message", err)
	}
	return id, nil
}

// Messages implements outbox.Store.
func (s *Store) Messages(_ context.Context, bot string, scope alice.Scope, offset, limit int) ([]outbox.Item, int, error) {
	items, total, err := listPage[outbox.Item](s.db, messagePrefix(bot, scope), offset, limit)
	if err != nil {
		return nil, 0, storeError("list messages", err)
	}
	return items, total, nil
}

// MessageContent implements outbox.Store. A message of another conversation
// is not found: ids are not capabilities.
func (s *Store) MessageContent(_ context.Context, bot string, scope alice.Scope, id string) (outbox.Item, []byte, error) {
	var m outbox.Item
	var content []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(append(messagePrefix(bot, scope), id...))
		if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
			return err
		}
		item, err = txn.Get([]byte(prefixContent + id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		content, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return outbox.Item{}, nil, alice.Errorf(alice.ENotFound, "message not found")
	}
	if err != nil {
		return outbox.Item{}, nil, storeError("read message "+id, err)
	}
	return m, content, nil
}

// trimConversation deletes the oldest messages under prefix beyond keep.
// Message ids sort by creation, so the oldest come first.
func trimConversation(txn *badger.Txn, prefix []byte, keep int) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	var ids []string
	for it.Rewind(); it.Valid(); it.Next() {
		ids = append(ids, string(it.Item().Key()[len(prefix):]))
	}
	it.Close()
	for _, id := range ids[:max(len(ids)-keep, 0)] {
		if err := deleteMessage(txn, prefix, id); err != nil {
			return err
		}
	}
	return nil
}

func deleteMessage(txn *badger.Txn, prefix []byte, id string) error {
	if err := txn.Delete(append(append([]byte(nil), prefix...), id...)); err != nil {
		return err
	}
	return txn.Delete([]byte(prefixContent + id))
}

// PruneMessages implements outbox.Store: it deletes the bot's messages
// created before before, reading the time from their ids (key-only scan).
func (s *Store) PruneMessages(_ context.Context, bot string, before time.Time) (int, error) {
	type old struct{ prefix, id string }
	var doomed []old
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte(prefixMessage + bot + "/")
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			key := string(it.Item().Key())
			slash := strings.LastIndexByte(key, '/')
			id := key[slash+1:]
			created, ok := outbox.CreatedAt(id)
			if ok && created.Before(before) {
				doomed = append(doomed, old{prefix: key[:slash+1], id: id})
			}
		}
		return nil
	})
	if err != nil {
		return 0, storeError("prune messages", err)
	}
	// Delete in bounded transactions.
	for start := 0; start < len(doomed); start += 500 {
		batch := doomed[start:min(start+500, len(doomed))]
		err := s.db.Update(func(txn *badger.Txn) error {
			for _, d := range batch {
				if err := deleteMessage(txn, []byte(d.prefix), d.id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return start, storeError("prune messages", err)
		}
	}
	return len(doomed), nil
}
