package badgerstore

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// Key layout, formats 2 to 6. Every key starts with one family byte; the
// rest is a tuple of components, each a uvarint length and then its bytes.
// That is a prefix code: the encoding of one tuple is never a prefix of
// another's unless the first tuple is a prefix of the second, so a scan of
// one conversation can never reach into another's keys, whatever bytes
// their ids hold ("oc_v" and "oc_v/0" are as far apart as "oc_a" and
// "oc_b"). Numbers that must sort are fixed-width big-endian.
//
//	H conv                      conversation header
//	K conv task                 task record
//	I bot task          → conv  every task of a bot, in creation order (task ids sort by creation)
//	S bot status task   → conv  a bot's tasks by status
//	D due(8) conv kind id       due-time index
//	R task seq(8)               run records
//	M conv message              outbox message
//	B conv message              outbox message bytes
//	P conv key                  idempotency record (expires)
//	N bot name          → int64 counters of a bot: its tasks (all, by status, by scope type), conversations, outbox messages
//	V                   → "6"   format version
//
// Record values are a version byte and JSON (codec.go), except the
// compact task records of format 5 (taskrecord.go). Format 3 differs from
// format 2 only in giving runs, messages and idempotency records that byte
// too, format 4 from format 3 only in task records leaving out the task's
// id and scope, which their key holds, format 5 from format 4 only in
// writing task records compactly, and format 6 from format 5 only in
// dropping the family C (conv status task), an index of each
// conversation's tasks by status: a conversation holds at most 1,500
// tasks, so its records are read instead, and a create writes one entry
// fewer for every compaction to rewrite. Format 1 used lowercase families
// with "/" separators ("s/", "t/", "d/", "r/", "m/", "mc/", "mi/"); the
// families here are uppercase, so the two never overlap while a data dir
// is migrated (migrate.go).
const (
	famHeader      byte = 'H'
	famTask        byte = 'K'
	famTaskID      byte = 'I'
	famBotStatus   byte = 'S'
	famConvStatus  byte = 'C' // formats 2 to 5 only; migrate.go deletes it
	famDue         byte = 'D'
	famRun         byte = 'R'
	famMessage     byte = 'M'
	famContent     byte = 'B'
	famIdempotency byte = 'P'
	famCounter     byte = 'N'
	famVersion     byte = 'V'
)

// partsLen is the length of parts encoded as tuple components. The key
// builders size each key with it, so building a key is one allocation:
// every durable change builds several.
func partsLen(parts ...string) int {
	n := 0
	for _, p := range parts {
		n += uvarintLen(uint64(len(p))) + len(p)
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// newKey is a key of family f with room for size more bytes.
func newKey(f byte, size int) []byte {
	b := make([]byte, 1, 1+size)
	b[0] = f
	return b
}

// appendPart appends one tuple component.
func appendPart(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// readPart reads one tuple component from the front of b.
func readPart(b []byte) (string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return "", nil, errMalformedKey
	}
	return string(b[w : w+int(n)]), b[w+int(n):], nil
}

var errMalformedKey = errors.New("malformed key")

// tupleKey starts a key of family f with the given components.
func tupleKey(f byte, parts ...string) []byte {
	b := newKey(f, partsLen(parts...))
	for _, p := range parts {
		b = appendPart(b, p)
	}
	return b
}

// appendConv appends the tuple of a conversation key.
func appendConv(b []byte, k alice.ConversationKey) []byte {
	b = appendPart(b, k.Bot)
	b = appendPart(b, string(k.Scope.Type))
	return appendPart(b, k.Scope.ID)
}

func convLen(k alice.ConversationKey) int {
	return partsLen(k.Bot, string(k.Scope.Type), k.Scope.ID)
}

func readConv(b []byte) (alice.ConversationKey, []byte, error) {
	bot, b, err := readPart(b)
	if err != nil {
		return alice.ConversationKey{}, nil, err
	}
	typ, b, err := readPart(b)
	if err != nil {
		return alice.ConversationKey{}, nil, err
	}
	id, b, err := readPart(b)
	if err != nil {
		return alice.ConversationKey{}, nil, err
	}
	return alice.ConversationKey{Bot: bot, Scope: alice.Scope{Type: alice.ScopeType(typ), ID: id}}, b, nil
}

// convKey starts a key of family f for conversation k, with extra parts.
func convKey(f byte, k alice.ConversationKey, parts ...string) []byte {
	b := appendConv(newKey(f, convLen(k)+partsLen(parts...)), k)
	for _, p := range parts {
		b = appendPart(b, p)
	}
	return b
}

// encodeConv is a conversation key as an index value.
func encodeConv(k alice.ConversationKey) []byte {
	return appendConv(make([]byte, 0, convLen(k)), k)
}

func decodeConv(v []byte) (alice.ConversationKey, error) {
	k, rest, err := readConv(v)
	if err == nil && len(rest) > 0 {
		err = errMalformedKey
	}
	return k, err
}

// appendTime appends t as milliseconds, big-endian with the sign bit
// flipped, so byte order is time order before and after 1970.
func appendTime(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixMilli())^(1<<63))
}

func readTime(b []byte) (time.Time, []byte, error) {
	if len(b) < 8 {
		return time.Time{}, nil, errMalformedKey
	}
	ms := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	return time.UnixMilli(ms).UTC(), b[8:], nil
}

// dueKey is a due entry: when, whose, what for.
func dueKey(at time.Time, k alice.ConversationKey, kind persistence.DueKind, id string) []byte {
	b := appendTime(newKey(famDue, 8+convLen(k)+partsLen(string(kind), id)), at)
	b = appendConv(b, k)
	b = appendPart(b, string(kind))
	return appendPart(b, id)
}

func runKey(taskID string, seq int) []byte {
	b := appendPart(newKey(famRun, partsLen(taskID)+8), taskID)
	return binary.BigEndian.AppendUint64(b, uint64(seq))
}
