package procgroup

import (
	"bytes"
	"os"
	"strconv"
	"strings"
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
