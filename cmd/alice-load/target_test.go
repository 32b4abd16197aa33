package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNewTargetStartsEmpty reuses a work dir the way a second run with the
// same -work does: the earlier run's data dir must be gone, so that its
// tasks do not count against the new run's caps, and the config beside it
// is left for start to rewrite.
func TestNewTargetStartsEmpty(t *testing.T) {
	work := t.TempDir()
	first, err := newTarget("writes-alice", "alice", work, "")
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(first.dataDir(), "store", "000001.sst")
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("left by the first run"), 0o600); err != nil {
		t.Fatal(err)
	}

	second, err := newTarget("writes-alice", "alice", work, "")
	if err != nil {
		t.Fatal(err)
	}
	if second.dataDir() != first.dataDir() {
		t.Fatalf("data dir moved: %s, then %s", first.dataDir(), second.dataDir())
	}
	if _, err := os.Stat(second.dataDir()); !os.IsNotExist(err) {
		t.Fatalf("data dir of the first run still there (stat: %v)", err)
	}
	if info, err := os.Stat(second.dir); err != nil || !info.IsDir() {
		t.Fatalf("target dir missing: %v", err)
	}
}
