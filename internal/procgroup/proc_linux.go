package procgroup

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// bootID tells this boot from any other.
func bootID() string {
	id, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(id))
}

// startTime is when process pid started, in clock ticks since boot (the
// 22nd field of /proc/PID/stat); ok is false once the process is gone. A
// zombie counts as gone: it runs nothing.
func startTime(pid int) (start uint64, ok bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces and parentheses of
	// its own; the fields after it are plain.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3, the state; field 22 is f[19].
	if len(f) < 20 || f[0] == "Z" {
		return 0, false
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return start, err == nil
}

// maxKillRounds bounds how often KillMarked scans: a process may fork
// between one scan and its kill, and its child is found by the next scan.
const maxKillRounds = 5

// KillMarked sends SIGKILL to every process whose environment holds one of
// marks (NAME=value, the value at least 16 hex digits; any other mark kills
// nothing) and returns how many it killed. It reads /proc/PID/environ, the
// environment a process started with: a process of another user cannot be
// read, and a zombie reads as empty, so neither is touched. One scan serves
// every mark, however many runs a restart finds.
func KillMarked(marks ...string) (killed int) {
	want := map[string]bool{}
	for _, m := range marks {
		if validMark(m) {
			want[m] = true
		}
	}
	if len(want) == 0 {
		return 0
	}
	for range maxKillRounds {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return killed
		}
		found := 0
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid <= 1 {
				continue
			}
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err == nil && holdsAny(env, want) && syscall.Kill(pid, syscall.SIGKILL) == nil {
				found++
			}
		}
		if found == 0 {
			return killed
		}
		killed += found
	}
	return killed
}

// holdsAny reports whether environ, NUL-separated NAME=value entries,
// holds one of entries exactly.
func holdsAny(environ []byte, entries map[string]bool) bool {
	for len(environ) > 0 {
		var e []byte
		e, environ, _ = bytes.Cut(environ, []byte{0})
		if entries[string(e)] {
			return true
		}
	}
	return false
}
