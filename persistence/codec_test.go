package persistence

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
)

func TestSnapshotRoundTrip(t *testing.T) {
	at := time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC)
	for name, s := range map[string]alice.Snapshot{
		"empty": {},
		"goal":  {Goal: &alice.Goal{ID: "goal_1", Description: "d", Status: alice.GoalPaused, CreatedAt: at, UpdatedAt: at}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := EncodeSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != snapshotV1 {
				t.Fatalf("version byte = %d, want %d", b[0], snapshotV1)
			}
			got, err := DecodeSnapshot(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("round trip = %+v, want %+v", got, s)
			}
		})
	}
}

func TestDecodeSnapshotRefusesUnknown(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		want string
	}{
		"empty":          {nil, "empty value"},
		"future version": {[]byte{9, '{', '}'}, "unknown version 9"},
		"corrupt body":   {[]byte{snapshotV1, '{'}, "decode snapshot v1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeSnapshot(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
