package badgerstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/alice-runtime/alice"
)

// Records (headers, runs, outbox messages, idempotency records, and task
// records before format 5: taskrecord.go) are one version byte and JSON.
// The byte lets a later release read these records and migrate them,
// instead of guessing from their shape. Format 2 wrote runs, messages and
// idempotency records as bare JSON; migrating to format 3 gave them the
// byte (migrate.go).
const recordV2 byte = 2

func encodeRecord(v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return append([]byte{recordV2}, body...), nil
}

func decodeRecord(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("decode record: empty value")
	}
	if b[0] != recordV2 {
		return fmt.Errorf("decode record: unknown version %d (written by a newer alice?)", b[0])
	}
	if err := json.Unmarshal(b[1:], v); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	return nil
}

// decodeTask decodes the record of task id in conversation key and fills
// in what its key holds.
func decodeTask(v []byte, key alice.ConversationKey, id string, ts *alice.TaskState) error {
	if err := decodeTaskRecord(v, ts); err != nil {
		return err
	}
	return fillTask(ts, key, id)
}

// fillTask sets a decoded task record's id and scope from its key. A
// record of format 3 or older still holds them; if they disagree with the
// key, the key wins and the error says so.
func fillTask(ts *alice.TaskState, key alice.ConversationKey, id string) error {
	var err error
	if (ts.ID != "" && ts.ID != id) || (ts.ScopeType != "" && ts.Scope() != key.Scope) {
		err = fmt.Errorf("task record of %s under %s holds task %s of %s", id, key, ts.ID, ts.Scope())
	}
	ts.ID, ts.ScopeType, ts.ScopeID = id, key.Scope.Type, key.Scope.ID
	return err
}

// idempotencyRecord is what a write with an Idempotency-Key leaves behind:
// which request it was and what it answered.
type idempotencyRecord struct {
	Fingerprint string          `json:"fingerprint"`
	Answer      json.RawMessage `json:"answer"`
}

// Counters are 8-byte big-endian signed integers.
func encodeCount(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func decodeCount(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("counter of %d bytes", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// counterNames are the counters one task contributes to: all of its bot's
// tasks, those of its status, of its scope type, and of both.
func counterNames(t *alice.Task) [4]string {
	return [4]string{
		"all",
		"status/" + string(t.Status),
		"type/" + string(t.ScopeType),
		"type/" + string(t.ScopeType) + "/status/" + string(t.Status),
	}
}

// The counters of a bot's conversations (those with a stored header) and
// of the messages in their outboxes, next to its tasks'.
const (
	conversationsCounter = "conversations"
	messagesCounter      = "messages"
)

// filterCounter is the counter that holds the total of a bot-wide listing.
func filterCounter(f alice.TaskFilter) string {
	switch {
	case f.ScopeType != "" && f.Status != "":
		return "type/" + string(f.ScopeType) + "/status/" + string(f.Status)
	case f.ScopeType != "":
		return "type/" + string(f.ScopeType)
	case f.Status != "":
		return "status/" + string(f.Status)
	}
	return "all"
}
