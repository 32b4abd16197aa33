package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/client"
)

// httpClient keeps one idle connection per worker.
func httpClient(conns int) *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
	}}
}

func (t *target) loadClient(conns int) *client.Client {
	c, err := client.New(t.url, t.token, httpClient(conns))
	if err != nil {
		panic(err)
	}
	return c
}

// rowOf formats a result as a table row.
func rowOf(name string, r result, ratio string) []string {
	return []string{name, fmt.Sprintf("%.0f", r.perSecond()), r.p(50).Round(10 * time.Microsecond).String(), r.p(99).Round(10 * time.Microsecond).String(), fmt.Sprint(r.errors), ratio}
}

// scenarioGet compares GET /api/v1/goal through the whole stack (auth, the
// conversation headers, shard, actor, JSON) with a bare net/http handler
// writing the same bytes, in alternating rounds.
func scenarioGet(o options) error {
	ts, err := targets(o, "get", "")
	if err != nil {
		return err
	}
	var body []byte
	for _, t := range ts {
		if err := t.start(); err != nil {
			return err
		}
		defer t.stop()
		c := t.loadClient(o.concurrency)
		for w := 0; w < o.concurrency; w++ {
			g, err := c.CreateGoal(bg, chat(fmt.Sprintf("oc_get_%d", w)), alice.GoalCreate{Description: "load test goal"})
			if err != nil && alice.ErrorCode(err) != alice.EConflict {
				return err
			}
			if g != nil {
				body, _ = json.Marshal(g)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go bare.Serve(ln)
	defer bare.Close()
	bareURL := "http://" + ln.Addr().String()

	hc := httpClient(o.concurrency)
	fetch := func(url string, t *target) work {
		return func(w, _ int) error {
			req, _ := http.NewRequest("GET", url+"/api/v1/goal", nil)
			if t != nil {
				req.Header.Set("Authorization", "Bearer "+t.token)
				req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
				req.Header.Set("X-Alice-Receive-Id", fmt.Sprintf("oc_get_%d", w))
			}
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
	results := map[string][]result{}
	load{workers: o.concurrency, duration: time.Second}.run(fetch(bareURL, nil)) // warm up
	for i := 0; i < o.rounds; i++ {
		results["bare"] = append(results["bare"], load{workers: o.concurrency, duration: o.duration}.run(fetch(bareURL, nil)))
		for _, t := range ts {
			results[t.name] = append(results[t.name], load{workers: o.concurrency, duration: o.duration}.run(fetch(t.url, t)))
		}
	}
	base := median(results["bare"])
	rows := [][]string{rowOf("bare net/http handler, same JSON", base, "1.00")}
	for _, t := range ts {
		r := median(results[t.name])
		rows = append(rows, rowOf(t.name, r, fmt.Sprintf("%.2f", r.perSecond()/base.perSecond())))
	}
	printTable(fmt.Sprintf("GET /api/v1/goal, %d clients, median of %d × %s rounds", o.concurrency, o.rounds, o.duration),
		[]string{"target", "req/s", "p50", "p99", "errors", "throughput ratio to bare"}, rows)
	return nil
}

// fsyncRate measures what this disk does in the same run: one 256-byte
// write and fsync at a time to one file, for d.
func fsyncRate(dir string, d time.Duration) (float64, error) {
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 256)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// scenarioWrites measures durable writes over HTTP: task creates (a fresh
// conversation every 200 tasks), goal create+complete in fresh
// conversations, and the same goal writes in conversations holding 400
// tasks each. Every write is acknowledged only once it is on disk.
func scenarioWrites(o options) error {
	ts, err := targets(o, "writes", "")
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := t.start(); err != nil {
			return err
		}
		defer t.stop()
	}
	fsyncs, err := fsyncRate(o.work, o.duration)
	if err != nil {
		return err
	}
	// The conversations holding 400 tasks each, one per client.
	const heavyTasks = 400
	for _, t := range ts {
		c := t.loadClient(o.concurrency)
		fmt.Fprintf(os.Stderr, "%s: filling %d conversations with %d tasks each\n", t.name, o.concurrency, heavyTasks)
		r := load{workers: o.concurrency, total: int64(o.concurrency * heavyTasks), progress: os.Stderr, label: t.name + " fill"}.run(func(w, i int) error {
			_, err := c.CreateTask(bg, alice.TaskCreate{Input: taskIn(fmt.Sprintf("oc_heavy_%d", w), "2099-01-01T00:00:00Z")})
			return err
		})
		if r.errors > 0 {
			return fmt.Errorf("%s: filling: %v", t.name, r.firstError)
		}
	}
	type measure struct {
		name    string
		op      func(cs *conns, round int) work
		per     int          // requests per operation
		answers []answerKind // the requests, as the server's metrics name them
	}
	taskCreate := []answerKind{{"POST", "/api/v1/automation/tasks", "201"}}
	goalCycle := []answerKind{{"POST", "/api/v1/goal", "201"}, {"POST", "/api/v1/goal/complete", "200"}}
	measures := []measure{
		{"task creates (durable)", func(cs *conns, round int) work {
			// Each client writes its own conversation, a fresh one every
			// 200 of its tasks (seq counts all clients' operations).
			return func(w, seq int) error {
				body, err := json.Marshal(taskIn(fmt.Sprintf("oc_create_%d_%d_%d", round, w, seq/(200*o.concurrency)), "2099-01-01T00:00:00Z"))
				if err != nil {
					return err
				}
				return cs.post(w, "/api/v1/automation/tasks", "", body, http.StatusCreated)
			}
		}, 1, taskCreate},
		{"goal create+complete, fresh conversations", func(cs *conns, round int) work {
			return func(w, i int) error { return cs.goalCycle(w, fmt.Sprintf("oc_cycle_%d_%d_%d", round, w, i)) }
		}, 2, goalCycle},
		{fmt.Sprintf("goal create+complete, conversations holding %d tasks", heavyTasks), func(cs *conns, round int) work {
			return func(w, i int) error { return cs.goalCycle(w, fmt.Sprintf("oc_heavy_%d", w)) }
		}, 2, goalCycle},
	}
	var rows [][]string
	for _, m := range measures {
		results := map[string][]result{}
		byServer := map[string]served{} // over all rounds
		for round := 0; round < o.rounds; round++ {
			for _, t := range ts {
				cs, err := newConns(t.url, t.token, o.concurrency)
				if err != nil {
					return err
				}
				before, err := t.answered(m.answers, servedBound)
				if err != nil {
					return err
				}
				r := load{workers: o.concurrency, duration: o.duration, rate: o.rate / float64(m.per)}.run(m.op(cs, round))
				cs.close()
				if r.errors > 0 {
					return fmt.Errorf("%s, %s: %d errors, the first: %v", t.name, m.name, r.errors, r.firstError)
				}
				after, err := t.answered(m.answers, servedBound)
				if err != nil {
					return err
				}
				byServer[t.name] = byServer[t.name].plus(after.minus(before))
				r.ops *= int64(m.per)
				results[t.name] = append(results[t.name], r)
			}
		}
		for _, t := range ts {
			r := median(results[t.name])
			rows = append(rows, []string{m.name, t.name, fmt.Sprintf("%.0f", r.perSecond()), r.p(99).Round(100 * time.Microsecond).String(),
				byServer[t.name].share(), fmt.Sprintf("%.2f", r.perSecond()/fsyncs)})
		}
	}
	pace := "as fast as they go"
	if o.rate > 0 {
		pace = fmt.Sprintf("an open loop at %.0f requests/s (latency from when each was due)", o.rate)
	}
	printTable(fmt.Sprintf("Durable writes over HTTP, %d clients, %s, rate limit off, median of %d × %s rounds; this disk's own write+fsync rate in the same run: %.0f/s. The p99 is of an operation: one task create, or a goal's create and complete in turn", o.concurrency, pace, o.rounds, o.duration, fsyncs),
		[]string{"what", "target", "requests/s", "p99 of an operation", fmt.Sprintf("requests the server answered within %g ms, all rounds", servedBound*1000), "requests per disk fsync"}, rows)
	return nil
}

func taskIn(conv, runAt string) alice.TaskInput {
	return alice.TaskInput{ScopeType: alice.Value("chat"), ScopeID: alice.Value(conv), Action: alice.Value("send_text"), Text: alice.Value("load"), RunAt: alice.Value(runAt)}
}

// goalCycle creates a goal in the conversation chatID and completes it.
func (cs *conns) goalCycle(w int, chatID string) error {
	if err := cs.post(w, "/api/v1/goal", chatID, []byte(`{"description":"cycle"}`), http.StatusCreated); err != nil {
		return err
	}
	return cs.post(w, "/api/v1/goal/complete", chatID, nil, http.StatusOK)
}
