package badgerstore

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// Ids a caller may send: separators and escapes of other encodings, and
// unicode. None of them may let one conversation's keys reach another's.
var trickyIDs = []string{"oc_v", "oc_v/0", "oc_v/", "oc_v:0", "oc_v%2F0", "oc_v\x000", "oc_v\xff", "会话", "会话/1", "a", "ab", ""}

func TestConversationKeysNeverShareAPrefix(t *testing.T) {
	for _, a := range trickyIDs {
		for _, b := range trickyIDs {
			if a == b {
				continue
			}
			ka := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: a}}
			kb := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: b}}
			// A scan of a's messages must not see b's.
			if bytes.HasPrefix(convKey(famMessage, kb, "om_1"), convKey(famMessage, ka)) {
				t.Errorf("the message prefix of %q is a prefix of a message key of %q", a, b)
			}
		}
	}
}

func TestKeysRoundTrip(t *testing.T) {
	at := time.Date(2025, 1, 15, 9, 0, 0, 123e6, time.UTC)
	for _, id := range trickyIDs {
		k := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeUser, ID: id}}
		got, rest, err := readConv(convKey(famHeader, k)[1:])
		if err != nil || got != k || len(rest) != 0 {
			t.Fatalf("conversation %q read back as %+v, %q, %v", id, got, rest, err)
		}
		d, err := parseDueKey(dueKey(at, k, persistence.DueTask, "task_"+id))
		if err != nil || !d.At.Equal(at) || d.Key != k || d.Kind != persistence.DueTask || d.ID != "task_"+id {
			t.Fatalf("due key of %q read back as %+v, %v", id, d, err)
		}
	}
}

func TestDueKeysSortByTime(t *testing.T) {
	k := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: "oc"}}
	times := []time.Time{
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), // before 1970: negative milliseconds
		time.Date(1969, 12, 31, 23, 59, 59, 999e6, time.UTC),
		time.Unix(0, 0),
		time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := dueKey(times[i-1], k, persistence.DueTask, "z"), dueKey(times[i], k, persistence.DueTask, "a")
		if bytes.Compare(a, b) >= 0 {
			t.Fatalf("due key of %s does not sort before %s", times[i-1], times[i])
		}
	}
}

// FuzzConversationKeys checks, for any two conversations, that their keys
// round-trip and that neither's prefix covers the other's keys.
func FuzzConversationKeys(f *testing.F) {
	for _, a := range trickyIDs {
		f.Add("main", a, "oc_v/0")
	}
	f.Fuzz(func(t *testing.T, bot, a, b string) {
		ka := alice.ConversationKey{Bot: bot, Scope: alice.Scope{Type: alice.ScopeChat, ID: a}}
		kb := alice.ConversationKey{Bot: bot, Scope: alice.Scope{Type: alice.ScopeChat, ID: b}}
		got, rest, err := readConv(convKey(famTask, ka)[1:])
		if err != nil || got != ka || len(rest) != 0 {
			t.Fatalf("%+v read back as %+v, %q, %v", ka, got, rest, err)
		}
		if a != b && bytes.HasPrefix(convKey(famTask, kb, "task_1"), convKey(famTask, ka)) {
			t.Fatalf("the key prefix of %q covers a key of %q", a, b)
		}
	})
}

// Keys are sized before they are built, so building one is one allocation;
// a wrong size would show as spare capacity (or as a second allocation).
func TestKeysAreSizedExactly(t *testing.T) {
	long := strings.Repeat("x", 300) // a two-byte length
	k := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: long}}
	at := time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"tuple", tupleKey(famTaskID, "main", long)},
		{"tuple, no parts", tupleKey(famVersion)},
		{"conversation", convKey(famHeader, k)},
		{"conversation and parts", convKey(famConvStatus, k, "active", long)},
		{"conversation as a value", encodeConv(k)},
		{"due", dueKey(at, k, persistence.DueTask, long)},
		{"run", runKey(long, 7)},
		{"counter", counterID{"main", long}.key()},
	} {
		if len(tc.key) != cap(tc.key) {
			t.Errorf("%s key: %d bytes in a buffer of %d", tc.name, len(tc.key), cap(tc.key))
		}
	}
	// A write's size counts its counters' keys without building them.
	if id := (counterID{"main", long}); id.keyLen() != len(id.key()) {
		t.Errorf("counter keyLen = %d, its key has %d bytes", id.keyLen(), len(id.key()))
	}
	if n := testing.AllocsPerRun(100, func() { convKey(famConvStatus, k, "active", long) }); n != 1 {
		t.Errorf("building a key took %v allocations, want 1", n)
	}
}

func TestUvarintLen(t *testing.T) {
	for _, x := range []uint64{0, 1, 127, 128, 300, 16383, 16384, 1 << 35, 1<<64 - 1} {
		if got, want := uvarintLen(x), len(binary.AppendUvarint(nil, x)); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", x, got, want)
		}
	}
}
