package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alice-runtime/alice/client"
	"github.com/alice-runtime/alice/internal/serveproc"
)

// target is the server a scenario measures: an alice binary this tool runs
// as a process of its own (so that its memory is its alone), or a server
// already running at a URL.
type target struct {
	name   string // "alice", or "before" for the binary compared against
	bin    string // the binary; "" for a running server
	url    string
	token  string
	dir    string // its data dir, when this tool runs it
	extra  string // more YAML under the bot
	cmd    *exec.Cmd
	exited chan error
}

const loadToken = "load-test-token-0123456789"

// newTarget prepares a binary to run with a fresh data dir under work. A
// data dir left by an earlier run with the same -work is removed: its tasks
// would count against the conversations' caps and its tables would slow
// the store, so the numbers would not be comparable.
func newTarget(name, bin, work, extra string) (*target, error) {
	t := &target{name: name, bin: bin, dir: filepath.Join(work, name), token: loadToken, extra: extra}
	if err := os.RemoveAll(t.dataDir()); err != nil {
		return nil, fmt.Errorf("remove the data dir of an earlier run: %w", err)
	}
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *target) dataDir() string { return filepath.Join(t.dir, "data") }

// start runs the server and waits until it answers.
func (t *target) start() error {
	if t.bin == "" {
		return nil // a running server
	}
	cfg := filepath.Join(t.dir, "alice.yaml")
	yaml := fmt.Sprintf("data_dir: %s\nbots:\n  load:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: %s\n    rate_limit_per_minute: 0\n%s", t.dataDir(), t.token, t.extra)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return err
	}
	level := "warn"
	if l := os.Getenv("ALICE_LOAD_LOG_LEVEL"); l != "" {
		level = l // debug-4 adds badger's own log: flushes, compactions
	}
	args := []string{"serve", "--config", cfg, "--log-level", level}
	if p := os.Getenv("ALICE_LOAD_CPUPROFILE"); p != "" && t.name == "alice" {
		args = append(args, "--cpuprofile", p)
	}
	if p := os.Getenv("ALICE_LOAD_TRACE_SLOW_COMMITS"); p != "" && t.name == "alice" {
		args = append(args, "--trace-slow-commits", p)
	}
	cmd := exec.Command(t.bin, args...)
	cmd.Stderr = os.Stderr
	url, err := serveproc.Start(cmd)
	if err != nil {
		return err
	}
	t.cmd, t.url, t.exited = cmd, url, make(chan error, 1)
	go func() { t.exited <- cmd.Wait() }()
	return nil
}

// stop sends SIGTERM and waits for the process to exit.
func (t *target) stop() error {
	if t.cmd == nil {
		return nil
	}
	t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-t.exited:
		t.cmd = nil
		return err
	case <-time.After(time.Minute):
		t.kill()
		return errors.New("the server did not stop within a minute of SIGTERM")
	}
}

// kill ends the process with SIGKILL.
func (t *target) kill() {
	if t.cmd == nil {
		return
	}
	t.cmd.Process.Kill()
	<-t.exited
	t.cmd = nil
}

func (t *target) client() *client.Client {
	c, err := client.New(t.url, t.token, nil)
	if err != nil {
		panic(err) // the URL came from the server itself
	}
	return c
}

// rss reads the server process's resident memory and its peak, in bytes.
func (t *target) rss() (now, peak int64) {
	if t.cmd == nil {
		return 0, 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", t.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, k := range []struct {
			prefix string
			dst    *int64
		}{{"VmRSS:", &now}, {"VmHWM:", &peak}} {
			if rest, ok := strings.CutPrefix(sc.Text(), k.prefix); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				*k.dst = kb << 10
			}
		}
	}
	return now, peak
}

// awaitAnswer polls GET /healthz until the server answers, and returns how
// long that took from since.
func (t *target) awaitAnswer(since time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		if _, _, err := t.client().Raw(ctx, "GET", "/healthz", zeroConv, "", nil); err == nil {
			return time.Since(since), nil
		}
		select {
		case <-ctx.Done():
			return 0, errors.New("no answer within a minute of start")
		case <-time.After(time.Millisecond):
		}
	}
}

// dirSize is the disk space the files under dir take, as du counts it:
// badger preallocates sparse files whose apparent size is not on disk.
func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += info.Size()
		}
		return nil
	})
	return n
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }
