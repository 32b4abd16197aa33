package main

import (
	"context"
	"testing"
	"time"

	"github.com/alice-runtime/alice/internal/chaos"
)

// TestChaos kills the real binary with SIGKILL twenty times while writers
// drive goals, tasks and file sends in 24 conversations. After every kill
// the stopped store passes alice check; at the end every acknowledged write
// is there once, every task ran and was recorded once, and every message
// was delivered once. (alice-load -scenario chaos -kills 200 is the long
// run.)
func TestChaos(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := chaos.Run(ctx, chaos.Config{Bin: aliceBin, Dir: t.TempDir(), Kills: 20})
	if err != nil {
		t.Fatalf("after %d kills: %v", r.Kills, err)
	}
	if r.Kills != 20 || r.Checks != 21 || r.Acknowledged == 0 || r.Retried == 0 || r.Tasks == 0 {
		t.Fatalf("report %+v: the run must kill 20 times, check after each and at the end, and lose some answers to kills", r)
	}
	t.Logf("%+v", r)
}
