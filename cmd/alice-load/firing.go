package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/client"
)

// dueBatch creates n one-shot tasks due evenly from start over span, over
// convs conversations, and returns their ids in order.
func dueBatch(c *client.Client, o options, label string, n, convs int, start time.Time, span time.Duration, prefix string) ([]string, result, error) {
	ids := make([]string, n)
	r := load{workers: o.concurrency, total: int64(n), progress: os.Stderr, label: label}.run(func(_, i int) error {
		at := start.Add(time.Duration(i) * span / time.Duration(n))
		t, err := c.CreateTask(bg, alice.TaskCreate{Input: taskIn(fmt.Sprintf("%s_%d", prefix, i%convs), at.UTC().Format(time.RFC3339Nano))})
		if err == nil {
			ids[i] = t.ID
		}
		return err
	})
	if r.errors > 0 {
		return nil, r, fmt.Errorf("%s: %d errors, the first: %v", label, r.errors, r.firstError)
	}
	return ids, r, nil
}

// lateness waits until every task of ids has run (the server then holds
// that many completed tasks: the one-shot tasks of ids and nothing else),
// then reads each occurrence's lateness (started_at − scheduled_at) from
// its run record.
func lateness(c *client.Client, o options, name string, ids []string, timeout time.Duration) (result, error) {
	deadline := time.Now().Add(timeout)
	for {
		_, completed, err := c.ListTasks(bg, alice.TaskFilter{Status: alice.TaskCompleted}, alice.Page{Limit: 1})
		if err != nil {
			return result{}, err
		}
		if completed >= len(ids) {
			break
		}
		if time.Now().After(deadline) {
			return result{}, fmt.Errorf("%d of %d tasks had still not run after %s", len(ids)-completed, len(ids), timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	late := make([]time.Duration, len(ids))
	due := make([]time.Time, len(ids))
	r := load{workers: o.concurrency, total: int64(len(ids))}.run(func(_, i int) error {
		runs, _, err := c.TaskRuns(bg, ids[i], alice.Page{Limit: 10})
		if err != nil {
			return err
		}
		if len(runs) != 1 || runs[0].StartedAt == nil {
			return fmt.Errorf("task %s has runs %+v, want one that started", ids[i], runs)
		}
		late[i] = runs[0].StartedAt.Sub(runs[0].ScheduledAt)
		due[i] = runs[0].ScheduledAt
		return nil
	})
	if r.errors > 0 {
		return result{}, fmt.Errorf("reading runs: %v", r.firstError)
	}
	if o.latenessOut != "" {
		if err := writeLateness(fmt.Sprintf("%s-%s.csv", o.latenessOut, name), due, late); err != nil {
			return result{}, err
		}
	}
	hist := newHistogram()
	for _, l := range late {
		hist.RecordValue(max(int64(l/time.Microsecond), 1))
	}
	return result{ops: int64(len(ids)), latency: hist, elapsed: time.Second}, nil
}

// writeLateness writes one line per occurrence, "due_unix_ms,lateness_ms",
// earliest due first: a tail that comes in episodes shows as runs of large
// values, which the percentiles alone do not tell from a spread.
func writeLateness(path string, due []time.Time, late []time.Duration) error {
	order := make([]int, len(due))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return due[a].Compare(due[b]) })
	var b strings.Builder
	b.WriteString("due_unix_ms,lateness_ms\n")
	for _, i := range order {
		fmt.Fprintf(&b, "%d,%d\n", due[i].UnixMilli(), late[i].Milliseconds())
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// scenarioBurst: 10,000 one-shot tasks due within 2 s, over 1,000
// conversations; how late does each start?
func scenarioBurst(o options) error {
	const n, convs, span = 10_000, 1_000, 2 * time.Second
	ts, err := targets(o, "burst", "")
	if err != nil {
		return err
	}
	var rows [][]string
	for _, t := range ts {
		if err := t.start(); err != nil {
			return err
		}
		c := t.loadClient(o.concurrency)
		// Due after they are all created: estimate the rate from a first
		// batch of 500.
		probe, r, err := dueBatch(c, o, t.name+" probe", 500, 500, time.Now().Add(time.Hour), time.Second, "oc_probe")
		if err != nil {
			return err
		}
		for _, id := range probe {
			c.DeleteTask(bg, id)
		}
		lead := time.Duration(float64(n)/r.perSecond()*1.5*float64(time.Second)) + 5*time.Second
		start := time.Now().Add(lead)
		ids, _, err := dueBatch(c, o, t.name+" create", n, convs, start, span, "oc_burst")
		if err != nil {
			return err
		}
		if time.Now().After(start) {
			return fmt.Errorf("%s: creating the batch ran past its start; the machine is too slow for -concurrency %d", t.name, o.concurrency)
		}
		late, err := lateness(c, o, t.name, ids, 5*time.Minute)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		_, peak := t.rss()
		rows = append(rows, []string{t.name, late.p(50).Round(time.Millisecond).String(), late.p(99).Round(time.Millisecond).String(),
			(time.Duration(late.latency.Max()) * time.Microsecond).Round(time.Millisecond).String(), mb(peak)})
		if err := t.stop(); err != nil {
			return err
		}
	}
	printTable(fmt.Sprintf("%d one-shot send_text tasks due evenly within %s in %d conversations (local outbox)", n, span, convs),
		[]string{"target", "lateness p50", "p99", "max", "server peak RSS"}, rows)
	return nil
}

// scenarioScale: many tasks over many conversations: the create rate and
// server memory while creating, the start-up time on that store, then a
// batch due in one minute: its lateness and the memory while it fires.
func scenarioScale(o options) error {
	if o.due < 1 || o.due >= o.tasks || o.conversations < 1 {
		return fmt.Errorf("-due must be in [1, -tasks) and -conversations at least 1")
	}
	ts, err := targets(o, "scale", "")
	if err != nil {
		return err
	}
	// Each server runs the whole scenario in turn (about ten minutes each):
	// two at once would share the cores and the disk.
	for _, t := range ts {
		title := fmt.Sprintf("%d tasks over %d conversations, %d clients (server process alone)", o.tasks, o.conversations, o.concurrency)
		if len(ts) > 1 {
			title = t.name + ": " + title
		}
		if err := scaleOne(o, t, title); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

// scaleOne runs the scale scenario on one server and prints its table.
func scaleOne(o options, t *target, title string) error {
	if err := t.start(); err != nil {
		return err
	}
	defer t.stop()
	c := t.loadClient(o.concurrency)
	background := o.tasks - o.due
	peakDuring := int64(0)
	stopSampling := sampleRSS(t, &peakDuring)
	create := load{workers: o.concurrency, total: int64(background), progress: os.Stderr, label: "create"}.run(func(_, i int) error {
		in := taskIn(fmt.Sprintf("oc_scale_%d", i%o.conversations), "2099-01-01T00:00:00Z")
		if i%2 == 1 {
			in.RunAt, in.Cron = alice.Field[string]{}, alice.Value("@yearly")
		}
		_, err := c.CreateTask(bg, alice.TaskCreate{Input: in})
		return err
	})
	stopSampling()
	if create.errors > 0 {
		return fmt.Errorf("creating: %d errors, the first: %v", create.errors, create.firstError)
	}
	rssAfter, _ := t.rss()
	rows := [][]string{
		{"create over HTTP, each durable", fmt.Sprintf("%.0f tasks/s, p99 %s (%d in %s)", create.perSecond(), create.p(99).Round(100*time.Microsecond), background, create.elapsed.Round(time.Second))},
		{"server RSS while creating (peak sampled)", mb(peakDuring)},
		{"server RSS after creating", mb(rssAfter)},
	}

	if err := t.stop(); err != nil {
		return err
	}
	began := time.Now()
	if err := t.start(); err != nil {
		return err
	}
	up, err := t.awaitAnswer(began)
	if err != nil {
		return err
	}
	c = t.loadClient(o.concurrency)
	rows = append(rows, []string{"start-up on that store, process start to first answer", up.Round(time.Millisecond).String()})

	ids, r, err := dueBatch(c, o, "create due", min(500, o.due), min(500, o.due), time.Now().Add(24*time.Hour), time.Second, "oc_probe")
	if err != nil {
		return err
	}
	for _, id := range ids {
		c.DeleteTask(bg, id)
	}
	lead := time.Duration(float64(o.due)/r.perSecond()*1.5*float64(time.Second)) + 10*time.Second
	minute := time.Now().Add(lead).Truncate(time.Minute).Add(time.Minute)
	fmt.Fprintf(os.Stderr, "creating %d tasks due between %s and %s\n", o.due, minute.Format(time.TimeOnly), minute.Add(time.Minute).Format(time.TimeOnly))
	ids, _, err = dueBatch(c, o, "create due", o.due, o.conversations, minute, time.Minute, "oc_scale")
	if err != nil {
		return err
	}
	if time.Now().After(minute) {
		return fmt.Errorf("creating the due batch ran past its minute; lower -due")
	}
	peakFiring := int64(0)
	stopSampling = sampleRSS(t, &peakFiring)
	late, err := lateness(c, o, t.name, ids, 10*time.Minute)
	stopSampling()
	if err != nil {
		rows = append(rows, []string{fmt.Sprintf("lateness of %d due in one minute", o.due), err.Error()})
		printTable(title, []string{"measure", "result"}, rows)
		return err
	}
	rows = append(rows,
		[]string{fmt.Sprintf("lateness of %d due in one minute", o.due), fmt.Sprintf("p50 %s, p99 %s, max %s", late.p(50).Round(time.Millisecond), late.p(99).Round(time.Millisecond), (time.Duration(late.latency.Max()) * time.Microsecond).Round(time.Millisecond))},
		[]string{"server RSS while firing (peak sampled)", mb(peakFiring)},
	)
	printTable(title, []string{"measure", "result"}, rows)
	return nil
}

// sampleRSS records the server's peak resident memory every 200 ms until
// the returned function is called.
func sampleRSS(t *target, peak *int64) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if now, _ := t.rss(); now > *peak {
				*peak = now
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() { close(stop); <-done }
}

// scenarioBigText: 4 conversations × 100 tasks with 64 KB of text each; the
// data dir's size after the store has closed (compacting what it can), and
// the time of GET /tasks?limit=1 on it.
func scenarioBigText(o options) error {
	const convs, per, size = 4, 100, 64 << 10
	ts, err := targets(o, "bigtext", "")
	if err != nil {
		return err
	}
	var rows [][]string
	// Random letters, so that compression in the store cannot hide how
	// much of the payload it keeps.
	rng := rand.New(rand.NewPCG(1, 2))
	letters := make([]byte, size)
	for i := range letters {
		letters[i] = byte('a' + rng.IntN(26))
	}
	text := string(letters)
	for _, t := range ts {
		if err := t.start(); err != nil {
			return err
		}
		c := t.loadClient(o.concurrency)
		r := load{workers: min(o.concurrency, 16), total: convs * per}.run(func(_, i int) error {
			in := taskIn(fmt.Sprintf("oc_big_%d", i%convs), "2099-01-01T00:00:00Z")
			in.Text = alice.Value(fmt.Sprintf("%s%d", text[:size-8], i))
			_, err := c.CreateTask(bg, alice.TaskCreate{Input: in})
			return err
		})
		if r.errors > 0 {
			return fmt.Errorf("%s: %v", t.name, r.firstError)
		}
		list := load{workers: 1, total: 20}.run(func(int, int) error {
			_, _, err := c.ListTasks(bg, alice.TaskFilter{}, alice.Page{Limit: 1})
			return err
		})
		_, peak := t.rss()
		if err := t.stop(); err != nil {
			return err
		}
		payload := int64(convs * per * size)
		disk := dirSize(t.dataDir())
		rows = append(rows, []string{t.name, mb(payload), mb(disk), fmt.Sprintf("%.1f×", float64(disk)/float64(payload)), list.p(50).Round(100 * time.Microsecond).String(), mb(peak)})
	}
	printTable(fmt.Sprintf("%d conversations × %d tasks with 64 KB of text each; data dir measured after the server stopped", convs, per),
		[]string{"target", "payload", "data dir", "ratio", "GET /tasks?limit=1 p50", "server peak RSS"}, rows)
	return nil
}
