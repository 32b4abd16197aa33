package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSlowCommitsWriteATraceAtMostFourTimes(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "slow")
	tr, err := startSlowCommitTracer(prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}

	tr.committed(10, 249*time.Millisecond)
	if n := tr.written.Load(); n != 0 {
		t.Fatalf("a commit of 249 ms started trace %d; only commits of 250 ms or more should", n)
	}
	for range 6 {
		tr.committed(10, 300*time.Millisecond)
	}
	tr.stop() // waits for the traces under way
	for i := 1; i <= 4; i++ {
		if st, err := os.Stat(fmt.Sprintf("%s.%d.%d", prefix, os.Getpid(), i)); err != nil || st.Size() == 0 {
			t.Fatalf("trace %d: %v", i, err)
		}
	}
	files, _ := filepath.Glob(prefix + ".*")
	if len(files) != 4 {
		t.Fatalf("traces written: %v, want four", files)
	}
}
