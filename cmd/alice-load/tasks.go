package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alice-runtime/alice"
)

// tasksLoad is the automation benchmark: create many tasks over many
// conversations through the HTTP API, measure memory while serving, the
// start-up time on that store, and the lateness of a large batch of tasks
// that come due in the same minute.
type tasksLoad struct {
	loadTest
	tasks, conversations, due int
}

func (l tasksLoad) run() error {
	dir, err := os.MkdirTemp("", "alice-load-tasks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, base, err := startAlice(dir)
	if err != nil {
		return err
	}
	client := newClient(l.concurrency)
	create := func(conv int, extra string) (string, error) {
		body := fmt.Sprintf(`{"scope_type":"chat","scope_id":"oc_load_%d","action":"send_text","text":"load %d"%s}`, conv, conv, extra)
		req, _ := http.NewRequest("POST", base+"/api/v1/automation/tasks", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 201 {
			b, _ := io.ReadAll(resp.Body)
			return "", fmt.Errorf("create: %d %s", resp.StatusCode, b)
		}
		var t struct{ ID string }
		json.NewDecoder(resp.Body).Decode(&t)
		return t.ID, nil
	}

	// 1. The background tasks: never due during the run.
	background := l.tasks - l.due
	fmt.Printf("\ncreating %d tasks over %d conversations, %d clients\n", background, l.conversations, l.concurrency)
	var next atomic.Int64
	createRate, err := l.fan(background, func(i int) error {
		extra := `,"run_at":"2099-01-01T00:00:00Z"`
		if i%2 == 1 {
			extra = `,"cron":"@yearly"`
		}
		_, err := create(i%l.conversations, extra)
		return err
	}, &next)
	if err != nil {
		return err
	}
	fmt.Printf("| create (HTTP, durable) | %.0f tasks/s | %s for %d |\n", createRate.perSecond(), createRate.elapsed.Round(time.Second), background)
	runtime.GC()
	fmt.Printf("| resident memory after creating | %s | Go heap in use %s |\n", rss(), heapInUse())

	// 2. Start-up on the full store: from New to the first answered request.
	srv.Shutdown(context.Background())
	began := time.Now()
	srv, base, err = startAlice(dir)
	if err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	for {
		req := goalRequest(base, "GET", 1, "")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				break
			}
		}
		if time.Since(began) > time.Minute {
			return fmt.Errorf("no answer within a minute of start")
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("| start-up to first answered request | %s | store of %d tasks |\n", time.Since(began).Round(time.Millisecond), background)

	// 3. A batch due in one minute, spread evenly over it, starting after
	// the batch has been created (estimated from the creation rate).
	lead := time.Duration(float64(l.due)/createRate.perSecond()*1.5*float64(time.Second)) + 10*time.Second
	minute := time.Now().Add(lead).Truncate(time.Minute).Add(time.Minute)
	fmt.Printf("creating %d tasks due between %s and %s\n", l.due, minute.Format(time.TimeOnly), minute.Add(time.Minute).Format(time.TimeOnly))
	ids := make([]string, l.due)
	next.Store(0)
	if _, err := l.fan(l.due, func(i int) error {
		at := minute.Add(time.Duration(i) * time.Minute / time.Duration(l.due))
		id, err := create(i%l.conversations, fmt.Sprintf(`,"run_at":%q`, at.UTC().Format(time.RFC3339Nano)))
		ids[i] = id
		return err
	}, &next); err != nil {
		return err
	}
	if time.Now().After(minute) {
		return fmt.Errorf("creating the due batch ran past its minute; lower -due")
	}
	time.Sleep(time.Until(minute.Add(time.Minute)))
	fmt.Printf("| resident memory while firing | %s | Go heap in use %s |\n", rss(), heapInUse())

	// 4. Wait for every occurrence with one light poller walking the tasks
	// in due order, so that measuring does not compete with firing; then
	// read every occurrence's lateness.
	runsOf := func(id string) ([]alice.Run, error) {
		req, _ := http.NewRequest("GET", base+"/api/v1/automation/tasks/"+id+"/runs", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var runs []alice.Run
		return runs, json.NewDecoder(resp.Body).Decode(&runs)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for i := 0; i < l.due; {
		runs, err := runsOf(ids[i])
		if err != nil {
			return err
		}
		if len(runs) == 1 && runs[0].StartedAt != nil {
			i++
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("task %s never ran", ids[i])
		}
		time.Sleep(200 * time.Millisecond)
	}
	late := make([]time.Duration, l.due)
	next.Store(0)
	if _, err := l.fan(l.due, func(i int) error {
		runs, err := runsOf(ids[i])
		if err != nil {
			return err
		}
		if len(runs) != 1 || runs[0].StartedAt == nil {
			return fmt.Errorf("task %s has %d runs, want 1", ids[i], len(runs))
		}
		late[i] = runs[0].StartedAt.Sub(runs[0].ScheduledAt)
		return nil
	}, &next); err != nil {
		return err
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	fmt.Printf("| timer lateness, %d due in one minute | p50 %s | p99 %s | max %s |\n", l.due,
		late[len(late)/2].Round(time.Millisecond), late[len(late)*99/100].Round(time.Millisecond), late[len(late)-1].Round(time.Millisecond))
	return nil
}

// fan runs op(i) for i in [0, n) from the configured number of goroutines
// and measures the whole as one result.
func (l tasksLoad) fan(n int, op func(i int) error, next *atomic.Int64) (result, error) {
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := 0; w < l.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || firstErr.Load() != nil {
					return
				}
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return result{}, err
	}
	return result{ops: n, elapsed: time.Since(start)}, nil
}

// rss reads this process's resident set size (Linux).
func rss() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(sc.Text(), "VmRSS:"))
		}
	}
	return "n/a"
}

func heapInUse() string {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return fmt.Sprintf("%d MB", m.HeapInuse>>20)
}
