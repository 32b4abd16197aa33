package llm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alice-runtime/alice/internal/await"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name      string
		argv      []string
		want      string // reply, or error substring when errors
		errors    bool
		retryable bool
		status    string
	}{
		{"prompt on stdin, reply on stdout", []string{"tr", "a-z", "A-Z"}, "HELLO AGENT", false, false, ""},
		{"a failure keeps the end of stderr", []string{"sh", "-c", "head -c 10000 /dev/zero | tr '\\0' x >&2; echo; echo model overloaded >&2; exit 3"}, "model overloaded", true, true, "exit 3"},
		{"killed by a signal", []string{"sh", "-c", "kill -KILL $$"}, "killed", true, true, "signal: killed"},
		{"empty reply", []string{"true"}, "replied with nothing", true, false, "exit 0"},
		{"missing program", []string{"no-such-agent-binary"}, "no-such-agent-binary", true, false, ""},
		{"runaway output is bounded", []string{"sh", "-c", "head -c 2000000 /dev/zero"}, "longer than", true, false, "exit 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Command{Argv: tt.argv}.Complete(context.Background(), Request{Prompt: "hello agent"})
			if tt.errors {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.want)
				}
				if r, _ := Retryable(err); r != tt.retryable {
					t.Fatalf("retryable = %v, want %v (%v)", r, tt.retryable, err)
				}
				if got := StatusOf(err); got != tt.status {
					t.Fatalf("status = %q, want %q", got, tt.status)
				}
				if len(err.Error()) > stderrTail+200 {
					t.Fatalf("the error keeps %d bytes of stderr", len(err.Error()))
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Complete = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// alive reports whether pid still runs (and is not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

func awaitDead(t *testing.T, pid int) {
	t.Helper()
	await.Until(t, 5*time.Second, fmt.Sprintf("process %d to end with the agent", pid), func() bool { return !alive(pid) })
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestTimeoutStopsTheWholeGroup: an agent that forks a sleeping grandchild
// and hangs is stopped at its timeout, grandchild included.
func TestTimeoutStopsTheWholeGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Command{Argv: []string{"sh", "-c", "sleep 300 & echo $! > " + pidFile + "; sleep 300"}, Grace: 200 * time.Millisecond}.Complete(ctx, Request{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if r, _ := Retryable(err); !r || StatusOf(err) != "timeout" {
		t.Fatalf("a timeout is not a retryable timeout: %v (%q)", err, StatusOf(err))
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("the call took %s after a 300ms timeout", took)
	}
	awaitDead(t, readPID(t, pidFile))
}

// TestTermIgnoredThenKilled: an agent that ignores SIGTERM is killed after
// the grace period.
func TestTermIgnoredThenKilled(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "self")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	Command{Argv: []string{"sh", "-c", "trap '' TERM; echo $$ > " + pidFile + "; while :; do sleep 0.05; done"}, Grace: 300 * time.Millisecond}.Complete(ctx, Request{})
	awaitDead(t, readPID(t, pidFile))
}

// TestChildHoldingThePipes: an agent that answers and exits, leaving a child
// that holds stdout open, does not hold the call past its grace, and the
// child does not outlive it.
func TestChildHoldingThePipes(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	start := time.Now()
	got, err := Command{Argv: []string{"sh", "-c", "sleep 300 & echo $! > " + pidFile + "; echo done"}, Grace: 100 * time.Millisecond}.Complete(context.Background(), Request{})
	if err != nil && !strings.Contains(err.Error(), "done") {
		t.Logf("Complete = %q, %v", got, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a child holding the pipes held the call for %s", took)
	}
	awaitDead(t, readPID(t, pidFile))
}

// TestEnvironment: the agent sees the inherited variables the config
// allows, the configured ones and the request's, and nothing else.
func TestEnvironment(t *testing.T) {
	dir := t.TempDir()
	runtimeEnv := map[string]string{"PATH": os.Getenv("PATH"), "HOME": "/home/alice", "SECRET_TOKEN": "do-not-leak"}
	c := Command{
		Argv: []string{"sh", "-c", "echo \"$HOME|$SECRET_TOKEN|$MODEL|$ALICE_RECEIVE_ID|$(pwd)\""}, Dir: dir,
		Env:       []string{"MODEL=gpt-test"},
		LookupEnv: func(k string) (string, bool) { v, ok := runtimeEnv[k]; return v, ok },
	}
	got, err := c.Complete(context.Background(), Request{Env: []string{"ALICE_RECEIVE_ID=oc_1"}})
	resolved, _ := filepath.EvalSymlinks(dir)
	if err != nil || got != "/home/alice||gpt-test|oc_1|"+resolved {
		t.Fatalf("Complete = %q, %v", got, err)
	}
	c.Inherit = []string{"PATH", "SECRET_TOKEN"}
	if got, _ := c.Complete(context.Background(), Request{}); got != "|do-not-leak|gpt-test||"+resolved {
		t.Fatalf("with inherit_env naming SECRET_TOKEN: %q", got)
	}
}

// groupLog records what a Command tells its GroupRecorder.
type groupLog struct {
	mu     sync.Mutex
	events []string
}

func (g *groupLog) Started(pgid int, run string) {
	if !strings.HasPrefix(run, EnvRun+"=") {
		g.add("started without the run's mark", pgid)
		return
	}
	g.add("started", pgid)
}
func (g *groupLog) Ended(pgid int) { g.add("ended", pgid) }
func (g *groupLog) add(what string, pgid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, fmt.Sprintf("%s %d", what, pgid))
}

// TestGroupsHearOfEachAgent: the recorder hears of the agent's group when
// it starts and when nothing of it is left, whether it answers or is
// stopped; a command that cannot start has no group to tell of.
func TestGroupsHearOfEachAgent(t *testing.T) {
	cases := []struct {
		name    string
		argv    []string
		timeout time.Duration
		events  int
	}{
		{"answers", []string{"sh", "-c", "echo $$ > $PIDFILE; echo hi"}, time.Minute, 2},
		{"stopped at its timeout", []string{"sh", "-c", "echo $$ > $PIDFILE; sleep 300"}, 300 * time.Millisecond, 2},
		{"cannot start", []string{"/nonexistent/agent"}, time.Minute, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			g := &groupLog{}
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			Command{Argv: tc.argv, Env: []string{"PIDFILE=" + pidFile}, Grace: 100 * time.Millisecond, Groups: g}.Complete(ctx, Request{})
			if len(g.events) != tc.events {
				t.Fatalf("events = %q, want %d", g.events, tc.events)
			}
			if tc.events == 0 {
				return
			}
			pid := readPID(t, pidFile)
			want := []string{fmt.Sprintf("started %d", pid), fmt.Sprintf("ended %d", pid)}
			if !slices.Equal(g.events, want) {
				t.Fatalf("events = %q, want %q", g.events, want)
			}
		})
	}
}

// TestEachRunHasItsOwnID: the run id every agent gets is unique to the run,
// so that stopping one run's processes leaves another's alone.
func TestEachRunHasItsOwnID(t *testing.T) {
	c := Command{Argv: []string{"sh", "-c", "echo $" + EnvRun}}
	a, err1 := c.Complete(context.Background(), Request{})
	b, err2 := c.Complete(context.Background(), Request{})
	if err1 != nil || err2 != nil || len(a) != 24 || a == b {
		t.Fatalf("run ids %q (%v) and %q (%v): want two different 24-digit ids", a, err1, b, err2)
	}
}
