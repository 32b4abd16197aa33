package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// benchToken is the bench bot's fixed token.
const benchToken = "bench-token-0123456789"

// benchConfig is one bot with benchToken and no rate limit.
const benchConfig = "bots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: " + benchToken + "\n    rate_limit_per_minute: 0\n"

// BenchmarkGoalGet compares GET /api/v1/goal through the full stack (auth,
// routing, conversation actor) with a bare net/http handler writing the same
// bytes, both on loopback with the same client. Read the two together: the
// ratio of their ns/op is what matters on a noisy machine.
func BenchmarkGoalGet(b *testing.B) {
	in := start(b, b.TempDir(), benchConfig, Options{})
	req := func(base string) *http.Request {
		r, _ := http.NewRequest("GET", base+"/api/v1/goal", nil)
		r.Header.Set("Authorization", "Bearer "+benchToken)
		r.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
		r.Header.Set("X-Alice-Receive-Id", "oc_bench")
		return r
	}
	create, _ := http.NewRequest("POST", in.base+"/api/v1/goal", nil)
	create.Header = req(in.base).Header
	create.Body = io.NopCloser(strings.NewReader(`{"description":"bench"}`))
	resp, err := http.DefaultClient.Do(create)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer bare.Close()
	for _, target := range []struct{ name, base string }{{"bare", bare.URL}, {"alice", in.base}} {
		b.Run(target.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := http.DefaultClient.Do(req(target.base))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

// BenchmarkTaskCreate creates one-shot tasks (due in 2099, so they never
// fire) through the full stack, 64 clients at once, each durable: a fresh
// conversation every 200 tasks of each client, as the load tool's writes
// scenario does.
// allocs/op is the number to watch across changes; ns/op moves with the
// machine.
func BenchmarkTaskCreate(b *testing.B) {
	in := start(b, b.TempDir(), benchConfig, Options{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	before := in.srv.store.Stats()
	defer func() {
		st := in.srv.store.Stats()
		b.ReportMetric(float64(st.Writes-before.Writes)/float64(st.Batches-before.Batches), "writes/sync")
	}()
	runClients(b, func(c int64, i int) error {
		body := fmt.Sprintf(`{"scope_type":"chat","scope_id":"oc_b_%d_%d","action":"send_text","text":"x","run_at":"2099-01-01T00:00:00Z"}`, c, i/200)
		code, err := benchPost(client, in.base+"/api/v1/automation/tasks", "", body)
		if err == nil && code != 201 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
}

// BenchmarkGoalCycle creates a goal and completes it, each durable, in a
// fresh conversation per cycle, 64 clients at once: the goal half of the
// load tool's writes scenario. One op is one cycle (two requests).
func BenchmarkGoalCycle(b *testing.B) {
	in := start(b, b.TempDir(), benchConfig, Options{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	do := func(path, conv, body string) error {
		code, err := benchPost(client, in.base+path, conv, body)
		if err == nil && code/100 != 2 {
			err = fmt.Errorf("%s: status %d", path, code)
		}
		return err
	}
	runClients(b, func(c int64, i int) error {
		conv := fmt.Sprintf("oc_g_%d_%d", c, i)
		if err := do("/api/v1/goal", conv, `{"description":"cycle"}`); err != nil {
			return err
		}
		return do("/api/v1/goal/complete", conv, "")
	})
}

// runClients times op from 32 clients per core at once (64 on two cores,
// as the load tool runs) until b.N ops are done. Each call is told its client's number and how
// many ops that client ran before; a client stops at its first error,
// which fails the benchmark.
func runClients(b *testing.B, op func(client int64, i int) error) {
	var clients atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := clients.Add(1)
		for i := 0; pb.Next(); i++ {
			if err := op(c, i); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchPost posts body to url with benchToken, in chat conv when
// conv is not empty, and returns the answer's status, its body read and
// discarded so the connection is reused.
func benchPost(client *http.Client, url, conv, body string) (int, error) {
	r, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	r.Header.Set("Authorization", "Bearer "+benchToken)
	if conv != "" {
		r.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
		r.Header.Set("X-Alice-Receive-Id", conv)
	}
	resp, err := client.Do(r)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
