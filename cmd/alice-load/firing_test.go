package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteLatenessOrdersByDueTime(t *testing.T) {
	at := func(ms int64) time.Time { return time.UnixMilli(1_700_000_000_000 + ms) }
	path := filepath.Join(t.TempDir(), "late.csv")
	due := []time.Time{at(20), at(0), at(10)}
	late := []time.Duration{3 * time.Millisecond, 1500 * time.Microsecond, 2 * time.Second}
	if err := writeLateness(path, due, late); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "due_unix_ms,lateness_ms\n1700000000000,1\n1700000000010,2000\n1700000000020,3\n"
	if string(got) != want {
		t.Fatalf("file =\n%s\nwant\n%s", got, want)
	}
}
