package actors

import (
	"context"
	"encoding/json"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// The local outbox is part of each conversation: its messages are the
// conversation's records, written by its actor like its tasks, so a task's
// message and the run that sent it commit together.

// sendLocal stores a message in the conversation's outbox.
type sendLocal struct{ req alice.MessageSend }

// sendAnswer is the answer of a send, as an idempotency record keeps it.
type sendAnswer struct {
	MessageID string `json:"message_id"`
}

func (s sendLocal) run(c *conversation) (any, error) {
	v, err := c.write(s.req.IdempotencyKey, s.req.Fingerprint, decodeAs[sendAnswer], func(ch *change) (any, error) {
		m := s.req.Message
		stored := m.Stored(c.d.ids.New("om_"), c.now())
		if err := ch.addMessage(stored, m.Data); err != nil {
			return nil, err
		}
		return sendAnswer{MessageID: stored.ID}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(sendAnswer).MessageID, nil
}

// addMessage adds a message to the outbox, dropping the oldest beyond the
// bot's per-conversation limit, and makes sure the conversation is woken
// when its oldest message passes the age limit.
func (ch *change) addMessage(m alice.Message, content []byte) error {
	c := ch.c
	ch.ch.Messages = append(ch.ch.Messages, persistence.MessageWrite{Message: m, Content: content})
	ch.header.Messages++
	if limit := c.bot.Outbox.MaxAge; limit > 0 && ch.header.OutboxDue == nil {
		due := m.CreatedAt.Add(limit)
		ch.header.OutboxDue = &due
	}
	ch.touchHeader()
	excess := ch.header.Messages - c.bot.Outbox.MaxMessages
	if excess <= 0 {
		return nil
	}
	oldest, err := c.d.store.OldestMessages(context.Background(), c.key, excess)
	if err != nil {
		return err
	}
	for _, old := range oldest {
		ch.ch.DeletedMessages = append(ch.ch.DeletedMessages, old.ID)
		ch.header.Messages--
	}
	return nil
}

// outboxDue is the timer service's delivery when the oldest outbox message
// reaches the age limit.
type outboxDue struct{ at time.Time }

// pruneBatch bounds the messages one wake-up deletes; a larger backlog is
// taken in further wake-ups, at once.
const pruneBatch = 500

func (d outboxDue) run(c *conversation) (any, error) {
	due := c.header.OutboxDue
	if due == nil || due.UnixMilli() != d.at.UnixMilli() {
		return dueStale, nil
	}
	now := c.now()
	if due.After(now) {
		return dueEarly, nil
	}
	ch := c.begin()
	ch.header.OutboxDue = nil
	ch.touchHeader()
	limit := c.bot.Outbox.MaxAge
	if limit > 0 && c.header.Messages > 0 {
		oldest, err := c.d.store.OldestMessages(context.Background(), c.key, pruneBatch)
		if err != nil {
			return dueStale, err
		}
		cutoff := now.Add(-limit)
		for _, m := range oldest {
			if !m.CreatedAt.Before(cutoff) {
				next := m.CreatedAt.Add(limit)
				ch.header.OutboxDue = &next
				break
			}
			ch.ch.DeletedMessages = append(ch.ch.DeletedMessages, m.ID)
			ch.header.Messages--
		}
		if ch.header.OutboxDue == nil && ch.header.Messages > 0 {
			ch.header.OutboxDue = &now // more than one batch was old: go on at once
		}
	}
	return dueStarted, ch.commit()
}

// checkKey looks a send's Idempotency-Key up before the send goes to a chat
// platform: the first answer for a repeat, an error for a reused key.
type checkKey struct{ key, fingerprint string }

func (k checkKey) run(c *conversation) (any, error) {
	answer, err := c.remembered(k.key, k.fingerprint)
	if err != nil || answer == nil {
		return nil, err
	}
	var a sendAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return nil, err
	}
	return a.MessageID, nil
}

// recordKey remembers a send made through a chat platform under its key.
type recordKey struct {
	key, fingerprint, messageID string
}

func (k recordKey) run(c *conversation) (any, error) {
	answer, err := json.Marshal(sendAnswer{MessageID: k.messageID})
	if err != nil {
		return nil, err
	}
	ch := c.begin()
	ch.ch.Idempotency = []persistence.IdempotencyRecord{{Key: k.key, Fingerprint: k.fingerprint, Answer: answer, Expires: time.Now().Add(idempotencyTTL)}}
	return nil, ch.commit()
}
