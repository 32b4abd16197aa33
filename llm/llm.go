// Package llm holds the agent backends that run_llm tasks, workflow steps
// and the goal loop use: a local command (prompt on stdin, reply on
// stdout), such as an agent CLI, and an OpenAI-compatible endpoint.
package llm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alice-runtime/alice/internal/procgroup"
)

// Request is one call of a bot's agent: the prompt, and the environment
// that tells the agent which conversation it serves and how to call the
// runtime back (ALICE_* variables, NAME=value).
type Request struct {
	Prompt string
	Env    []string
}

// Backend answers a prompt.
type Backend interface {
	Complete(ctx context.Context, req Request) (string, error)
}

// Error is a failed call that says whether trying again may succeed: a
// timeout, a broken connection, an endpoint's 429 or 5xx, a command's
// non-zero exit may; a missing program or a refused request will not.
type Error struct {
	Err        error
	Retryable  bool
	RetryAfter time.Duration // the endpoint's Retry-After, 0 when it gave none
	// Status is how the call ended, for the run record: "exit 2",
	// "signal: killed", "timeout", "http 503"; "" when there is no more to
	// say than the error.
	Status string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err is worth another attempt, and how long the
// backend asked to wait before it (0: no word).
func Retryable(err error) (bool, time.Duration) {
	var e *Error
	if errors.As(err, &e) && e.Retryable {
		return true, e.RetryAfter
	}
	return false, 0
}

// StatusOf is the Status of err when it is an *Error, else "".
func StatusOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return ""
}

func retryable(status, format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...), Retryable: true, Status: status}
}

func final(status, format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...), Status: status}
}

// maxReplyBytes bounds what is read from a backend.
const maxReplyBytes = 1 << 20

// stderrTail is how much of a command's standard error its failure keeps:
// the end, where the reason usually is.
const stderrTail = 4 << 10

// DefaultInherit are the variables an agent command inherits from the
// runtime's environment unless the configuration names others: enough to
// find programs, a home and a language, and nothing secret.
func DefaultInherit() []string {
	return []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM"}
}

// EnvRun names the variable that holds an agent run's id. Every process
// the agent starts inherits it unless it clears its environment, so the
// processes that leave the agent's group (setsid, a daemon) are found by it.
const EnvRun = "ALICE_AGENT_RUN"

// Command runs Argv with the prompt on stdin and takes stdout as the reply.
// The agent runs in its own process group, and everything in that group is
// stopped when the call ends: on timeout or cancellation with SIGTERM, then
// SIGKILL after Grace; after a normal exit with SIGKILL, so that no child
// outlives it. A descendant that left the group but still carries the
// run's id (EnvRun) gets SIGKILL then too, where the platform lists
// processes' environments (Linux).
type Command struct {
	Argv    []string
	Dir     string        // working directory; "" the runtime's
	Env     []string      // extra variables, NAME=value (llm.env)
	Inherit []string      // variables taken from the runtime's environment; nil: DefaultInherit
	Grace   time.Duration // between SIGTERM and SIGKILL; default 5s
	// LookupEnv reads the runtime's environment; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Groups, when set, is told of each agent's process group from its
	// start until nothing of it is left, so that a runtime killed before it
	// could stop a group can stop it when it starts again.
	Groups GroupRecorder
}

// GroupRecorder records the process groups that agents run in, and the
// EnvRun entry (NAME=value) their processes carry.
type GroupRecorder interface {
	Started(pgid int, run string)
	Ended(pgid int)
}

// Complete implements Backend.
func (c Command) Complete(ctx context.Context, req Request) (string, error) {
	grace := c.Grace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	run := EnvRun + "=" + newRunID()
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(c.environ(req.Env), run)
	cmd.Stdin = strings.NewReader(req.Prompt)
	stdout := &limitedBuffer{max: maxReplyBytes}
	stderr := &tailBuffer{max: stderrTail}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = procAttr()
	var kill *time.Timer
	var mu sync.Mutex
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		mu.Lock()
		kill = time.AfterFunc(grace, func() { syscall.Kill(-pgid, syscall.SIGKILL) })
		mu.Unlock()
		return syscall.Kill(-pgid, syscall.SIGTERM)
	}
	// A child that keeps the pipes open must not hold the call: after the
	// grace, Wait stops waiting for them.
	cmd.WaitDelay = grace + time.Second
	err := cmd.Start()
	if err == nil {
		if c.Groups != nil {
			c.Groups.Started(cmd.Process.Pid, run)
		}
		err = cmd.Wait()
		mu.Lock()
		if kill != nil {
			kill.Stop()
		}
		mu.Unlock()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever the agent left behind
		procgroup.KillMarked(run)                       // and what left it
		if c.Groups != nil {
			c.Groups.Ended(cmd.Process.Pid)
		}
	}
	name := c.Argv[0]
	if ctx.Err() != nil {
		status := "cancelled"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			status = "timeout"
		}
		return "", retryable(status, "agent %s: %w%s", name, ctx.Err(), stderr.suffix())
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", retryable(exitStatus(exit.ProcessState), "agent %s: %v%s", name, exit.ProcessState, stderr.suffix())
		}
		return "", final("", "agent %s: %v", name, err)
	}
	if stdout.truncated {
		return "", final("exit 0", "agent %s: the reply is longer than %d bytes", name, maxReplyBytes)
	}
	reply := strings.TrimSpace(stdout.String())
	if reply == "" {
		return "", final("exit 0", "agent %s replied with nothing%s", name, stderr.suffix())
	}
	return reply, nil
}

// newRunID is a run's id: random, so that no other run's processes carry it,
// and in hex, the form procgroup requires of a mark before it kills by it.
func newRunID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// exitStatus says how a process ended: "exit 3" or "signal: killed".
func exitStatus(ps *os.ProcessState) string {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("exit %d", ps.ExitCode())
}

// environ is the agent's environment: the inherited variables, then the
// configured ones, then the request's (the conversation's context), later
// ones winning.
func (c Command) environ(request []string) []string {
	lookup := c.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	inherit := c.Inherit
	if inherit == nil {
		inherit = DefaultInherit()
	}
	var env []string
	for _, name := range inherit {
		if v, ok := lookup(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return append(append(env, c.Env...), request...)
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest, so a runaway command cannot fill memory. The buffer is a named
// field, not embedded: an embedded bytes.Buffer would promote ReadFrom, and
// io.Copy would use it and bypass the limit.
type limitedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string { return b.buf.String() }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// suffix is ": <the end of stderr>" for an error message, or "".
func (b *tailBuffer) suffix() string {
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return ""
	}
	return ": " + s
}

var (
	_ io.Writer = (*limitedBuffer)(nil)
	_ io.Writer = (*tailBuffer)(nil)
)

// WithTimeout bounds every call of b by d.
func WithTimeout(b Backend, d time.Duration) Backend { return timeout{b, d} }

type timeout struct {
	b Backend
	d time.Duration
}

func (t timeout) Complete(ctx context.Context, req Request) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.b.Complete(ctx, req)
}
