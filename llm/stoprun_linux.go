package llm

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// maxStopRounds bounds how often stopRun scans: a process may fork between
// one scan and its kill, and its child is found by the next scan.
const maxStopRounds = 5

// stopRun kills every process whose environment holds the variable run
// (NAME=value). It reads /proc/PID/environ, which is what a process
// started with: a process of another user cannot be read, and a zombie
// reads as empty, so neither is touched.
func stopRun(run string) {
	want := []byte(run)
	for range maxStopRounds {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		found := false
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid <= 1 {
				continue
			}
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err == nil && holdsVar(env, want) && syscall.Kill(pid, syscall.SIGKILL) == nil {
				found = true
			}
		}
		if !found {
			return
		}
	}
}

// holdsVar reports whether environ, NUL-separated NAME=value entries,
// holds v exactly.
func holdsVar(environ, v []byte) bool {
	for len(environ) > 0 {
		var entry []byte
		entry, environ, _ = bytes.Cut(environ, []byte{0})
		if bytes.Equal(entry, v) {
			return true
		}
	}
	return false
}
