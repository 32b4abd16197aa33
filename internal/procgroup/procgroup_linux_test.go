package procgroup

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alice-runtime/alice/internal/await"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startGroup starts sh as the leader of a new process group, with a
// sleeping child in the group; it returns the leader and the child's pid.
func startGroup(t *testing.T) (*exec.Cmd, int) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 300 & echo $!; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Only while the leader is not reaped is its pid, and so the
		// group's id, sure not to name someone else's group.
		if cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
	})
	return cmd, child
}

func running(pid int) bool { _, ok := startTime(pid); return ok }

// deadRuntime is a process that has exited: the runtime a test pretends
// was killed.
func deadRuntime(t *testing.T) process {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start, ok := startTime(cmd.Process.Pid)
	cmd.Process.Kill()
	cmd.Wait()
	if !ok {
		t.Fatal("no start time for a running process")
	}
	return process{pid: cmd.Process.Pid, start: start}
}

func awaitGone(t *testing.T, pid int) {
	t.Helper()
	await.Until(t, 10*time.Second, fmt.Sprintf("process %d to be gone", pid), func() bool { return !running(pid) })
}

func TestOpenStopsWhatAKilledRuntimesAgentLeft(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.pgids")
	r, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	r.self = deadRuntime(t) // the file is written as by a runtime since killed
	leader, child := startGroup(t)
	r.Started(leader.Process.Pid, "")
	// The runtime is killed: the kernel kills the agent (Pdeathsig), not
	// the child it started, and nobody calls Ended.
	leader.Process.Kill()
	leader.Wait()
	if !running(child) {
		t.Fatal("the child died with the agent; the test shows nothing")
	}

	if _, err := Open(path, quiet()); err != nil {
		t.Fatal(err)
	}
	awaitGone(t, child)
	boot, writer, groups, err := parse(mustRead(t, path))
	if err != nil || boot != bootID() || !writer.alive() || writer.pid != os.Getpid() || len(groups) != 0 {
		t.Fatalf("after the sweep the file holds %q %v %v (%v), want this boot, this process and no group", boot, writer, groups, err)
	}
}

// TestOpenStopsWhatLeftTheGroup: processes that left their agents' groups
// (each in a session of its own) but carry their runs' marks are stopped
// by the next start, as the groups are: two runs, one scan.
func TestOpenStopsWhatLeftTheGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.pgids")
	r, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	r.self = deadRuntime(t)
	var escaped []*exec.Cmd
	for i := range 2 {
		leader, _ := startGroup(t)
		mark := fmt.Sprintf("ALICE_TEST_RUN=%016x%08x", time.Now().UnixNano(), os.Getpid()*2+i)
		cmd := exec.Command("sleep", "300")
		cmd.Env = append(os.Environ(), mark)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		escaped = append(escaped, cmd)
		r.Started(leader.Process.Pid, mark)
		leader.Process.Kill() // the runtime is killed, and the agent with it
		leader.Wait()
	}

	if _, err := Open(path, quiet()); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range escaped {
		awaitGone(t, cmd.Process.Pid)
	}
}

func TestOpenSparesWhatItCannotProveIsTheAgents(t *testing.T) {
	dead := deadRuntime(t)
	self, _ := startTime(os.Getpid())
	cases := []struct {
		name string
		file func(pgid int, start uint64) string
	}{
		{"the id is another process's now", func(pgid int, start uint64) string {
			return fmt.Sprintf("boot %s\nruntime %d %d\n%d %d\n", bootID(), dead.pid, dead.start, pgid, start+1)
		}},
		{"the list is from another boot", func(pgid int, start uint64) string {
			return fmt.Sprintf("boot not-%s\nruntime %d %d\n%d %d\n", bootID(), dead.pid, dead.start, pgid, start)
		}},
		{"the runtime that wrote it still runs (a copied data dir)", func(pgid int, start uint64) string {
			return fmt.Sprintf("boot %s\nruntime %d %d\n%d %d\n", bootID(), os.Getpid(), self, pgid, start)
		}},
		{"the list is unreadable", func(pgid int, start uint64) string {
			return fmt.Sprintf("boot %s\nruntime %d %d\n%d %d\n%d\n", bootID(), dead.pid, dead.start, pgid, start, pgid)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leader, child := startGroup(t)
			start, ok := startTime(leader.Process.Pid)
			if !ok {
				t.Fatal("no start time for a running process")
			}
			path := filepath.Join(t.TempDir(), "agents.pgids")
			if err := os.WriteFile(path, []byte(tc.file(leader.Process.Pid, start)), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(path, quiet()); err != nil {
				t.Fatal(err)
			}
			if !running(leader.Process.Pid) || !running(child) {
				t.Fatal("a group that may not be the agent's was stopped")
			}
		})
	}
}

func TestTheFileFollowsTheAgents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.pgids")
	r, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := startGroup(t)
	b, _ := startGroup(t)
	r.Started(a.Process.Pid, "")
	r.Started(b.Process.Pid, "RUN=0123456789abcdef")
	r.Ended(a.Process.Pid)
	_, _, groups, err := parse(mustRead(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := groups[a.Process.Pid]; ok || len(groups) != 1 {
		t.Fatalf("groups = %v, want only %d", groups, b.Process.Pid)
	}
	if start, _ := startTime(b.Process.Pid); groups[b.Process.Pid] != (group{start, "RUN=0123456789abcdef"}) {
		t.Fatalf("recorded %+v, want start %d and its mark", groups[b.Process.Pid], start)
	}
}

func TestStartTimeReadsOddCommandNames(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "a) b (c")
	if err := os.Symlink("/bin/sleep", odd); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if _, ok := startTime(cmd.Process.Pid); !ok {
		t.Fatal("no start time for a process named with parentheses")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestHoldsAny(t *testing.T) {
	env := []byte("PATH=/bin\x00ALICE_AGENT_RUN=abc\x00HOME=/root")
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"ALICE_AGENT_RUN=abc", true},
		{"HOME=/root", true},
		{"PATH=/bin", true},
		{"ALICE_AGENT_RUN=ab", false}, // a prefix of the value
		{"ALICE_AGENT_RUN=abcd", false},
		{"RUN=abc", false}, // a suffix of an entry
	} {
		if got := holdsAny(env, map[string]bool{tc.v: true}); got != tc.want {
			t.Errorf("holdsAny(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
	if !holdsAny(env, map[string]bool{"X=1": true, "HOME=/root": true}) {
		t.Error("holdsAny missed the one entry of two that the environment holds")
	}
}
