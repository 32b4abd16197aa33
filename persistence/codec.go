package persistence

import (
	"encoding/json"
	"fmt"

	"github.com/alice-runtime/alice"
)

// snapshotV1 is the first snapshot encoding: one version byte, then JSON.
// The version byte lets a later release read old snapshots and migrate them
// on the next write, instead of guessing from the shape of the bytes.
const snapshotV1 byte = 1

// EncodeSnapshot returns the stored form of s.
func EncodeSnapshot(s alice.Snapshot) ([]byte, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return append([]byte{snapshotV1}, body...), nil
}

// DecodeSnapshot reads a stored snapshot of any version this build knows.
func DecodeSnapshot(b []byte) (alice.Snapshot, error) {
	var s alice.Snapshot
	if len(b) == 0 {
		return s, fmt.Errorf("decode snapshot: empty value")
	}
	switch b[0] {
	case snapshotV1:
		if err := json.Unmarshal(b[1:], &s); err != nil {
			return s, fmt.Errorf("decode snapshot v1: %w", err)
		}
		return s, nil
	default:
		return s, fmt.Errorf("decode snapshot: unknown version %d (written by a newer alice?)", b[0])
	}
}
