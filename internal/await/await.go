// Package await lets tests wait for what the code under test does on its
// own time: a timer's delivery, a process's exit, a restart's recovery.
package await

import (
	"testing"
	"time"
)

// poll is how long Until sleeps between checks: short beside the waits
// tests make, long enough not to load a server that cond asks over HTTP.
const poll = 10 * time.Millisecond

// Until calls cond until it returns true, failing the test after limit
// with what it was waiting for.
func Until(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(poll) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
	}
}
