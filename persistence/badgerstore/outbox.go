package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
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

// PutMessage implements outbox.Store.
func (s *Store) PutMessage(_ context.Context, bot string, scope alice.Scope, it outbox.Item, content []byte, idempotencyKey string) (string, error) {
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
				return txn.Set([]byte(prefixContent+it.ID), content)
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
	out := []outbox.Item{}
	total := 0
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = messagePrefix(bot, scope)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if total >= offset && len(out) < limit {
				var m outbox.Item
				if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
					return err
				}
				out = append(out, m)
			}
			total++
		}
		return nil
	})
	if err != nil {
		return nil, 0, storeError("list messages", err)
	}
	return out, total, nil
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
