// Command alice-load measures Alice Runtime on loopback and reports each
// result as a ratio against a baseline measured in the same run, because
// absolute numbers on a shared machine mean little.
//
//	alice-load -scenario get     GET /api/v1/goal through the full stack
//	                             vs a bare net/http handler with the same JSON
//	alice-load -scenario cycle   durable goal create+complete cycles in 64
//	                             conversations vs bare synced badger writes
//	alice-load -scenario tasks   1,000,000 tasks over 100,000 conversations:
//	                             create rate, memory, start-up, timer lateness
//
// Rounds alternate baseline and runtime so that drift in the machine's load
// hits both alike; the median round is reported.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/server"
)

func main() {
	scenario := flag.String("scenario", "all", "get, cycle, all (get and cycle) or tasks")
	tasks := flag.Int("tasks", 1_000_000, "tasks to create (tasks scenario)")
	conversations := flag.Int("conversations", 100_000, "conversations they spread over (tasks scenario)")
	due := flag.Int("due", 100_000, "of the tasks, how many come due in one minute (tasks scenario)")
	duration := flag.Duration("duration", 5*time.Second, "length of one measurement")
	rounds := flag.Int("rounds", 3, "measurements per target (the median is reported)")
	concurrency := flag.Int("concurrency", 64, "concurrent clients (get) or conversations (cycle)")
	flag.Parse()
	if *duration <= 0 || *duration > 10*time.Minute || *rounds < 1 || *rounds > 50 || *concurrency < 1 || *concurrency > 4096 {
		fmt.Fprintln(os.Stderr, "alice-load: -duration must be in (0, 10m], -rounds in [1, 50], -concurrency in [1, 4096]")
		os.Exit(2)
	}
	l := loadTest{duration: *duration, rounds: *rounds, concurrency: *concurrency}
	var err error
	switch *scenario {
	case "get":
		err = l.get()
	case "cycle":
		err = l.cycle()
	case "tasks":
		if *due < 1 || *due >= *tasks || *conversations < 1 {
			err = fmt.Errorf("-due must be in [1, -tasks) and -conversations at least 1")
			break
		}
		err = tasksLoad{loadTest: l, tasks: *tasks, conversations: *conversations, due: *due}.run()
	case "all":
		if err = l.get(); err == nil {
			err = l.cycle()
		}
	default:
		err = fmt.Errorf("unknown scenario %q", *scenario)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "alice-load:", err)
		os.Exit(1)
	}
}

type loadTest struct {
	duration    time.Duration
	rounds      int
	concurrency int
}

const token = "load-test-token-0123456789"

// startAlice runs a real server (badger in a temp dir, rate limit off) on a
// free loopback port.
func startAlice(dir string) (*server.Server, string, error) {
	cfg, err := config.Parse([]byte(fmt.Sprintf(`data_dir: %s
bots:
  load:
    runtime_http_addr: 127.0.0.1:0
    runtime_http_token: %s
    rate_limit_per_minute: 0
`, dir, token)), "")
	if err != nil {
		return nil, "", err
	}
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, "", err
	}
	go srv.Serve()
	return srv, "http://" + srv.Bots()[0].Addr, nil
}

// result is one measurement.
type result struct {
	ops      int
	elapsed  time.Duration
	p50, p99 time.Duration
	errors   int
}

func (r result) perSecond() float64 { return float64(r.ops) / r.elapsed.Seconds() }

// run calls op from n goroutines for d and records each call's latency.
// Worker i passes i to op. Latencies are sampled into a fixed-size
// reservoir per worker so memory stays bounded at any rate.
func run(n int, d time.Duration, op func(worker int) error) result {
	const perWorker = 20_000
	samples := make([][]time.Duration, n)
	counts := make([]int, n)
	errs := make([]int, n)
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				t0 := time.Now()
				err := op(w)
				lat := time.Since(t0)
				if err != nil {
					errs[w]++
					continue
				}
				counts[w]++
				if len(samples[w]) < perWorker {
					samples[w] = append(samples[w], lat)
				} else {
					samples[w][i%perWorker] = lat
				}
			}
		}(w)
	}
	wg.Wait()
	r := result{elapsed: time.Since(start)}
	var all []time.Duration
	for w := 0; w < n; w++ {
		r.ops += counts[w]
		r.errors += errs[w]
		all = append(all, samples[w]...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
	}
	return r
}

func median(rs []result) result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].perSecond() < rs[j].perSecond() })
	return rs[len(rs)/2]
}

func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
	}, Timeout: 30 * time.Second}
}

// get compares GET /api/v1/goal through auth, routing, the conversation
// actor and its snapshot with a bare handler that writes the same bytes.
func (l loadTest) get() error {
	dir, err := os.MkdirTemp("", "alice-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, base, err := startAlice(dir)
	if err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	client := newClient(l.concurrency)

	// One goal per client's conversation, so the load spreads over actors.
	var body []byte
	for w := 0; w < l.concurrency; w++ {
		req := goalRequest(base, "POST", w, `{"description":"load test goal"}`)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return fmt.Errorf("create goal: %d %s", resp.StatusCode, body)
		}
	}

	bare, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bareSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go bareSrv.Serve(bare)
	defer bareSrv.Close()
	bareBase := "http://" + bare.Addr().String()

	fetch := func(base string) func(int) error {
		return func(w int) error {
			resp, err := client.Do(goalRequest(base, "GET", w, ""))
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
	run(l.concurrency, time.Second, fetch(base)) // warm connections and caches
	run(l.concurrency, time.Second, fetch(bareBase))
	var alice, baseline []result
	for i := 0; i < l.rounds; i++ {
		baseline = append(baseline, run(l.concurrency, l.duration, fetch(bareBase)))
		alice = append(alice, run(l.concurrency, l.duration, fetch(base)))
	}
	report("GET /api/v1/goal", "bare net/http handler, same JSON", l, median(alice), median(baseline))
	return nil
}

func goalRequest(base, method string, conv int, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+"/api/v1/goal", r)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
	req.Header.Set("X-Alice-Receive-Id", fmt.Sprintf("oc_load_%d", conv))
	return req
}

// cycle runs create+complete goal cycles, each two durable writes, in
// concurrent conversations, against the same number of goroutines making
// two synced badger writes of a snapshot-sized value per cycle directly.
func (l loadTest) cycle() error {
	dir, err := os.MkdirTemp("", "alice-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, base, err := startAlice(dir + "/alice")
	if err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	client := newClient(l.concurrency)
	post := func(path string, conv int, body string, want int) error {
		req := goalRequest(base, "POST", conv, body)
		req.URL.Path = path
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s: status %d", path, resp.StatusCode)
		}
		return nil
	}
	aliceCycle := func(w int) error {
		if err := post("/api/v1/goal", w, `{"description":"cycle"}`, 201); err != nil {
			return err
		}
		return post("/api/v1/goal/complete", w, "", 200)
	}

	db, err := badger.Open(badger.DefaultOptions(dir + "/bare").WithSyncWrites(true).WithLogger(nil))
	if err != nil {
		return err
	}
	defer db.Close()
	value, _ := json.Marshal(map[string]any{"goal": map[string]any{
		"id": "goal_01jh0000000000000000000000", "description": "cycle", "status": "in_progress",
		"created_at": time.Now().UTC(), "updated_at": time.Now().UTC(),
	}})
	bareCycle := func(w int) error {
		key := []byte(fmt.Sprintf("s/load/chat/oc_load_%d", w))
		for i := 0; i < 2; i++ {
			if err := db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) }); err != nil {
				return err
			}
		}
		return nil
	}

	run(l.concurrency, time.Second, aliceCycle)
	run(l.concurrency, time.Second, bareCycle)
	var alice, baseline []result
	for i := 0; i < l.rounds; i++ {
		baseline = append(baseline, run(l.concurrency, l.duration, bareCycle))
		alice = append(alice, run(l.concurrency, l.duration, aliceCycle))
	}
	a, b := median(alice), median(baseline)
	if a.errors > 0 {
		return errors.New("goal cycles failed during the measurement")
	}
	report("goal create+complete cycle (2 durable writes)", "2 synced badger writes, no HTTP or actors", l, a, b)
	return nil
}

func report(what, baseline string, l loadTest, alice, base result) {
	fmt.Printf("\n%s — %d concurrent, %d × %s rounds, median round\n", what, l.concurrency, l.rounds, l.duration)
	fmt.Printf("| target | ops/s | p50 | p99 | errors |\n|---|---|---|---|---|\n")
	fmt.Printf("| alice | %.0f | %s | %s | %d |\n", alice.perSecond(), alice.p50.Round(time.Microsecond), alice.p99.Round(time.Microsecond), alice.errors)
	fmt.Printf("| baseline: %s | %.0f | %s | %s | %d |\n", baseline, base.perSecond(), base.p50.Round(time.Microsecond), base.p99.Round(time.Microsecond), base.errors)
	fmt.Printf("ratio alice/baseline: throughput %.2f, p99 %.2f× the baseline's\n", alice.perSecond()/base.perSecond(), float64(alice.p99)/float64(base.p99))
}
