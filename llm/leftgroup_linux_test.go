package llm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestChildLeavingTheGroupIsStopped: a child that leaves the agent's
// process group (setsid) is stopped with the agent all the same, found by
// the run's id in its environment; the agent's answer is kept.
func TestChildLeavingTheGroupIsStopped(t *testing.T) {
	file := filepath.Join(t.TempDir(), "escaped")
	// The child writes its pid and its process group, then sleeps.
	script := "setsid sh -c 'echo $$ $(cut -d\" \" -f5 /proc/$$/stat) > " + file + ".tmp; mv " + file + ".tmp " + file + "; exec sleep 300' </dev/null >/dev/null 2>&1 &" +
		" while [ ! -e " + file + " ]; do sleep 0.01; done; echo done"
	got, err := Command{Argv: []string{"sh", "-c", script}}.Complete(context.Background(), Request{})
	b, rerr := os.ReadFile(file)
	var pid, pgid int
	if _, serr := fmt.Sscan(string(b), &pid, &pgid); rerr != nil || serr != nil {
		t.Fatalf("the child's pid and group: %q, %v, %v", b, rerr, serr)
	}
	if err != nil || got != "done" {
		t.Fatalf("Complete = %q, %v", got, err)
	}
	if pgid != pid {
		t.Fatalf("the child is in group %d, not one of its own (%d): it did not leave the agent's", pgid, pid)
	}
	awaitDead(t, pid)
}
