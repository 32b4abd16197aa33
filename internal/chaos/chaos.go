// Package chaos is a chaos run of the real alice binary: writers drive
// goals, tasks and file sends in many conversations while the server is
// killed with SIGKILL and restarted, again and again; after every kill the
// stopped store must pass `alice check`, and at the end every acknowledged
// write must be there exactly once, every due occurrence recorded once and
// its message delivered once.
//
// Every write carries an Idempotency-Key, and a write whose answer was lost
// to a kill is sent again with the same key until it is acknowledged, so
// the writers' ledger of what exists is exact. Goal transitions take no
// key; a retried one that finds its work already done (409 "already
// paused", 404 "no active goal" after complete) was applied before the
// kill.
package chaos

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/client"
	"github.com/alice-runtime/alice/internal/serveproc"
)

// Config configures a run. Zero values take the defaults on each field.
type Config struct {
	Bin           string        // the alice binary (required)
	Dir           string        // a directory for the data dir and config (required)
	Kills         int           // how many times the server is killed; default 20
	Writers       int           // concurrent writers; default 8
	Conversations int           // conversations per writer; default 3
	MinUp, MaxUp  time.Duration // how long the server runs between kills; default 150ms to 700ms
	Seed          uint64        // for the random choices; default 1
	Log           io.Writer     // progress; default io.Discard
}

// Report is what a run did.
type Report struct {
	Kills        int
	Checks       int // stopped stores checked, every one consistent
	Acknowledged int // writes acknowledged (each exactly once in the end)
	Retried      int // writes whose answer a kill took, sent again
	Tasks        int // tasks created; each ran once
	Messages     int // outbox messages verified: the tasks' texts and the files
	Elapsed      time.Duration
}

const token = "chaos-token-0123456789"

// Run performs the run and returns what it did, or the first thing found
// wrong.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Bin == "" || cfg.Dir == "" {
		return nil, errors.New("chaos: Bin and Dir are required")
	}
	setDefault(&cfg.Kills, 20)
	setDefault(&cfg.Writers, 8)
	setDefault(&cfg.Conversations, 3)
	if cfg.MinUp <= 0 {
		cfg.MinUp = 150 * time.Millisecond
	}
	if cfg.MaxUp <= cfg.MinUp {
		cfg.MaxUp = cfg.MinUp + 550*time.Millisecond
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	start := time.Now()
	srv := &server{bin: cfg.Bin, dir: cfg.Dir, log: cfg.Log}
	if err := srv.start(); err != nil {
		return nil, err
	}
	defer srv.kill()

	report := &Report{}
	counts := &counters{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writers := make([]*writer, cfg.Writers)
	errs := make(chan error, cfg.Writers+1)
	for i := range writers {
		w := &writer{srv: srv, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), counts: counts}
		for c := 0; c < cfg.Conversations; c++ {
			w.convs = append(w.convs, &ledger{conv: alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: fmt.Sprintf("oc_chaos_%d_%d", i, c)}, tasks: map[string]string{}, files: map[string][32]byte{}})
		}
		writers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(ctx, stop); err != nil {
				errs <- err
			}
		}()
	}

	rng := rand.New(rand.NewPCG(cfg.Seed, 1<<32))
	var failure error
	for k := 0; k < cfg.Kills && failure == nil; k++ {
		select {
		case <-time.After(cfg.MinUp + time.Duration(rng.Int64N(int64(cfg.MaxUp-cfg.MinUp)))):
		case err := <-errs:
			failure = err
			continue
		case <-ctx.Done():
			failure = ctx.Err()
			continue
		}
		srv.kill()
		report.Kills++
		if err := srv.check(); err != nil {
			failure = fmt.Errorf("after kill %d: %w", k+1, err)
			break
		}
		report.Checks++
		if err := srv.start(); err != nil {
			failure = fmt.Errorf("restart after kill %d: %w", k+1, err)
		}
		fmt.Fprintf(cfg.Log, "chaos: kill %d of %d; %d writes acknowledged so far\n", k+1, cfg.Kills, counts.acknowledged.Load())
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		if failure == nil {
			failure = err
		}
	default:
	}
	if failure != nil {
		return report, failure
	}
	report.Acknowledged = int(counts.acknowledged.Load())
	report.Retried = int(counts.retried.Load())
	if err := verify(ctx, srv, writers, report); err != nil {
		return report, err
	}
	srv.kill()
	if err := srv.check(); err != nil {
		return report, fmt.Errorf("at the end: %w", err)
	}
	report.Checks++
	report.Elapsed = time.Since(start)
	return report, nil
}

// counters are counted across the run's writers.
type counters struct {
	acknowledged, retried atomic.Int64
}

func setDefault(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

// server is the alice process under test, restarted after each kill on
// the same data dir.
type server struct {
	bin, dir string
	log      io.Writer

	mu     sync.Mutex
	up     chan struct{} // closed while a server answers
	client *client.Client
	cmd    *exec.Cmd
}

func (s *server) start() error {
	cfg := filepath.Join(s.dir, "alice.yaml")
	yaml := fmt.Sprintf("data_dir: %s\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: %s\n    rate_limit_per_minute: 0\n    outbox: {max_messages: 1000000}\n",
		filepath.Join(s.dir, "data"), token)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "serve", "--config", cfg, "--log-level", "error")
	cmd.Stderr = s.log
	base, err := serveproc.Start(cmd)
	if err != nil {
		return err
	}
	c, err := client.New(base, token, nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cmd, s.client = cmd, c
	s.up = make(chan struct{})
	close(s.up)
	s.mu.Unlock()
	return nil
}

// kill ends the server with SIGKILL; writers wait until it is back.
func (s *server) kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd, s.up = nil, make(chan struct{})
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
}

// current waits for a running server and returns its client.
func (s *server) current(ctx context.Context) (*client.Client, error) {
	for {
		s.mu.Lock()
		up, c := s.up, s.client
		s.mu.Unlock()
		select {
		case <-up:
			return c, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// check runs `alice check` on the stopped server's data dir.
func (s *server) check() error {
	out, err := exec.Command(s.bin, "check", "--data-dir", filepath.Join(s.dir, "data")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("alice check: %v\n%s", err, out)
	}
	return nil
}

// ledger is what the writers know one conversation holds.
type ledger struct {
	conv  alice.Conversation
	goal  *alice.Goal         // the active goal, as last acknowledged
	tasks map[string]string   // task id → its text (unique)
	files map[string][32]byte // message id → sha256 of its bytes
	n     int                 // writes made, for unique keys and texts
}

// writer owns some conversations and writes to them one request at a time.
type writer struct {
	srv    *server
	rng    *rand.Rand
	convs  []*ledger
	counts *counters
}

// maxTasks keeps a conversation under the bound of finished tasks it keeps
// (alice.MaxFinishedTasksPerConversation): beyond it the oldest go, which
// the ledger would see as lost.
const maxTasks = alice.MaxFinishedTasksPerConversation * 9 / 10

func (w *writer) run(ctx context.Context, stop <-chan struct{}) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		l := w.convs[w.rng.IntN(len(w.convs))]
		l.n++
		var err error
		switch r := w.rng.IntN(10); {
		case r < 4 && len(l.tasks) < maxTasks:
			err = w.createTask(ctx, l)
		case r < 6:
			err = w.sendFile(ctx, l)
		default:
			err = w.goalStep(ctx, l)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", l.conv.ReceiveID, err)
		}
		w.counts.acknowledged.Add(1)
	}
}

// retry sends a request until it is answered, sending it again after a
// lost answer (a kill) or an unavailable server, and returns the answer.
func retry[T any](ctx context.Context, w *writer, do func(c *client.Client) (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		c, err := w.srv.current(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		v, err := do(c)
		if !lost(err) {
			return v, err
		}
		if attempt == 0 {
			w.counts.retried.Add(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lost reports an error after which the request may or may not have been
// applied, or was not: the connection broke, or the runtime was unavailable.
func lost(err error) bool {
	if err == nil {
		return false
	}
	var ae *alice.Error
	if errors.As(err, &ae) {
		return ae.Code == alice.EUnavailable
	}
	return true // transport: refused, reset, EOF
}

func (w *writer) createTask(ctx context.Context, l *ledger) error {
	text := fmt.Sprintf("chaos %s %d", l.conv.ReceiveID, l.n)
	in := alice.TaskInput{ScopeType: alice.Value("chat"), ScopeID: alice.Value(l.conv.ReceiveID), Action: alice.Value("send_text"), Text: alice.Value(text)}
	if w.rng.IntN(2) == 0 { // due in up to 2 s; else at once
		in.RunAt = alice.Value(time.Now().Add(time.Duration(w.rng.Int64N(int64(2 * time.Second)))).UTC().Format(time.RFC3339Nano))
	}
	key := fmt.Sprintf("task-%s-%d", l.conv.ReceiveID, l.n)
	t, err := retry(ctx, w, func(c *client.Client) (*alice.Task, error) {
		return c.CreateTask(ctx, alice.TaskCreate{Input: in, IdempotencyKey: key})
	})
	if err != nil {
		return fmt.Errorf("create task: %w", err)
	}
	if _, dup := l.tasks[t.ID]; dup {
		return fmt.Errorf("create task with a new key answered an existing task %s", t.ID)
	}
	l.tasks[t.ID] = text
	return nil
}

func (w *writer) sendFile(ctx context.Context, l *ledger) error {
	data := fmt.Appendf(nil, "file %s %d %d", l.conv.ReceiveID, l.n, w.rng.Uint64())
	key := fmt.Sprintf("file-%s-%d", l.conv.ReceiveID, l.n)
	id, err := retry(ctx, w, func(c *client.Client) (string, error) {
		return c.SendMessage(ctx, l.conv, alice.MessageSend{Message: alice.Outgoing{Kind: alice.KindFile, Data: data, FileName: "f.txt"}, IdempotencyKey: key})
	})
	if err != nil {
		return fmt.Errorf("send file: %w", err)
	}
	if _, dup := l.files[id]; dup {
		return fmt.Errorf("send with a new key answered an existing message %s", id)
	}
	l.files[id] = sha256.Sum256(data)
	return nil
}

func (w *writer) goalStep(ctx context.Context, l *ledger) error {
	g := l.goal
	type step struct {
		name string
		do   func(c *client.Client) (*alice.Goal, error)
		done alice.Code // the error kind a retry gets if the step was applied before
		next func(*alice.Goal) *alice.Goal
	}
	var s step
	switch {
	case g == nil:
		desc := fmt.Sprintf("goal %s %d", l.conv.ReceiveID, l.n)
		key := fmt.Sprintf("goal-%s-%d", l.conv.ReceiveID, l.n)
		s = step{"create", func(c *client.Client) (*alice.Goal, error) {
			return c.CreateGoal(ctx, l.conv, alice.GoalCreate{Description: desc, IdempotencyKey: key})
		}, "", func(g *alice.Goal) *alice.Goal { return g }}
	case w.rng.IntN(3) == 0:
		s = step{"complete", func(c *client.Client) (*alice.Goal, error) { return c.CompleteGoal(ctx, l.conv) }, alice.ENotFound, func(*alice.Goal) *alice.Goal { return nil }}
	case w.rng.IntN(4) == 0:
		s = step{"delete", func(c *client.Client) (*alice.Goal, error) { return nil, c.DeleteGoal(ctx, l.conv) }, alice.ENotFound, func(*alice.Goal) *alice.Goal { return nil }}
	case g.Status == alice.GoalInProgress:
		s = step{"pause", func(c *client.Client) (*alice.Goal, error) { return c.PauseGoal(ctx, l.conv) }, alice.EConflict, func(g *alice.Goal) *alice.Goal { return g }}
	default:
		s = step{"resume", func(c *client.Client) (*alice.Goal, error) { return c.ResumeGoal(ctx, l.conv) }, alice.EConflict, func(g *alice.Goal) *alice.Goal { return g }}
	}
	answerLost := false
	got, err := retry(ctx, w, func(c *client.Client) (*alice.Goal, error) {
		v, err := s.do(c)
		if answerLost && s.done != "" && alice.ErrorCode(err) == s.done {
			// Applied before the kill took its answer: read what it did.
			v, err = c.GetGoal(ctx, l.conv)
			if err == nil && v == nil && s.name != "complete" && s.name != "delete" {
				err = fmt.Errorf("%s was applied, and the goal is gone", s.name)
			}
		}
		answerLost = answerLost || lost(err)
		return v, err
	})
	if err != nil {
		return fmt.Errorf("goal %s: %w", s.name, err)
	}
	l.goal = s.next(got)
	return nil
}

// verify waits for every task to have run, then checks each conversation
// against its ledger.
func verify(ctx context.Context, srv *server, writers []*writer, report *Report) error {
	c, err := srv.current(ctx)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		_, active, err := c.ListTasks(ctx, alice.TaskFilter{Status: alice.TaskActive}, alice.Page{Limit: 1})
		if err != nil {
			return err
		}
		if active == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d tasks had not run a minute after the last kill", active)
		}
	}
	for _, w := range writers {
		for _, l := range w.convs {
			if err := verifyConversation(ctx, c, l, report); err != nil {
				return fmt.Errorf("%s: %w", l.conv.ReceiveID, err)
			}
		}
	}
	return nil
}

func verifyConversation(ctx context.Context, c *client.Client, l *ledger, report *Report) error {
	g, err := c.GetGoal(ctx, l.conv)
	if err != nil {
		return err
	}
	switch {
	case (g == nil) != (l.goal == nil):
		return fmt.Errorf("goal is %+v, the writer last saw %+v", g, l.goal)
	case g != nil && (g.ID != l.goal.ID || g.Status != l.goal.Status):
		return fmt.Errorf("goal is %s %s, the writer last saw %s %s", g.ID, g.Status, l.goal.ID, l.goal.Status)
	}
	scope := l.conv.Scope()
	var tasks []alice.Task
	total := 0
	for offset := 0; offset == 0 || offset < total; offset += alice.MaxPageSize {
		page, n, err := c.ListTasks(ctx, alice.TaskFilter{ScopeType: scope.Type, ScopeID: scope.ID}, alice.Page{Offset: offset, Limit: alice.MaxPageSize})
		if err != nil {
			return err
		}
		tasks, total = append(tasks, page...), n
	}
	if total != len(l.tasks) || len(tasks) != total {
		return fmt.Errorf("%d tasks, the writer made %d", total, len(l.tasks))
	}
	for _, t := range tasks {
		if _, ok := l.tasks[t.ID]; !ok {
			return fmt.Errorf("task %s was never acknowledged", t.ID)
		}
		runs, n, err := c.TaskRuns(ctx, t.ID, alice.Page{Limit: 10})
		if err != nil {
			return err
		}
		if n != 1 || runs[0].Outcome != alice.OutcomeSucceeded || t.Status != alice.TaskCompleted || t.RunCount != 1 {
			return fmt.Errorf("task %s (%s): %d runs %+v, run_count %d; want one successful run", t.ID, t.Status, n, runs, t.RunCount)
		}
		if runs[0].StartedAt.Before(runs[0].ScheduledAt) {
			return fmt.Errorf("task %s ran at %s, before its time %s", t.ID, runs[0].StartedAt, runs[0].ScheduledAt)
		}
	}
	report.Tasks += total
	texts := map[string]int{}
	files := 0
	for offset := 0; ; offset += alice.MaxPageSize {
		items, total, err := c.ListMessages(ctx, l.conv, alice.Page{Offset: offset, Limit: alice.MaxPageSize})
		if err != nil {
			return err
		}
		for _, m := range items {
			switch m.Kind {
			case alice.KindText:
				texts[m.Text]++
			case alice.KindFile:
				sum, ok := l.files[m.ID]
				if !ok {
					return fmt.Errorf("message %s was never acknowledged", m.ID)
				}
				_, data, err := c.MessageContent(ctx, l.conv, m.ID)
				if err != nil || sha256.Sum256(data) != sum {
					return fmt.Errorf("message %s: its bytes differ from what was sent (%v)", m.ID, err)
				}
				files++
			}
		}
		if offset+len(items) >= total {
			break
		}
	}
	if files != len(l.files) {
		return fmt.Errorf("%d files in the outbox, the writer sent %d", files, len(l.files))
	}
	for id, text := range l.tasks {
		if texts[text] != 1 {
			return fmt.Errorf("task %s's text was delivered %d times, want once", id, texts[text])
		}
	}
	for text, n := range texts {
		if !strings.HasPrefix(text, "chaos ") || n != 1 {
			return fmt.Errorf("outbox holds %q %d times", text, n)
		}
	}
	report.Messages += files + len(texts)
	return nil
}
