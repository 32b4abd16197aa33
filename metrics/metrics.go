// Package metrics keeps the runtime's Prometheus metrics in a registry of
// its own (no global state) and serves them in the text format. Its
// methods are the hooks the layers call: the HTTP API, the actors, the
// store. Labels hold bot ids, route patterns, statuses and outcomes; never
// conversation, task or message ids, tokens or content.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/alice-runtime/alice"
)

// Totals reads a bot's stored counts, on each scrape.
type Totals func(ctx context.Context, bot string) (conversations, messages, tasks int64, err error)

// Metrics is the runtime's metrics.
type Metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.HistogramVec
	activations  *prometheus.CounterVec
	passivations *prometheus.CounterVec
	occurrences  *prometheus.CounterVec
	lateness     *prometheus.HistogramVec
	attempts     *prometheus.CounterVec
	attemptTime  *prometheus.HistogramVec
	commits      prometheus.Counter
	batchSize    prometheus.Histogram
	syncTime     prometheus.Histogram

	mu   sync.Mutex
	live map[string]int64 // live conversations by bot
}

// New registers the metrics, and the store's per-bot counts for bots, read
// through totals on each scrape. With totals nil (a program embedding the
// runtime without a store's counts) only the live conversations are
// reported for each bot.
func New(bots []string, totals Totals) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), live: map[string]int64{}}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "alice_http_request_duration_seconds", Help: "HTTP requests answered, by method, route pattern and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"method", "route", "status"})
	m.activations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alice_conversation_activations_total", Help: "Conversation actors started.",
	}, []string{"bot"})
	m.passivations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alice_conversation_passivations_total", Help: "Conversation actors stopped (idle, evicted or at shutdown).",
	}, []string{"bot"})
	m.occurrences = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alice_occurrences_total", Help: "Task occurrences recorded, by outcome.",
	}, []string{"bot", "outcome"})
	m.lateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "alice_occurrence_lateness_seconds", Help: "How long after its slot an occurrence started.",
		Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 30, 60, 300, 3600},
	}, []string{"bot"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alice_agent_attempts_total", Help: "Agent attempts (tasks and goal turns), by result: ok, timeout, exit, signal, http_4xx, http_5xx, other.",
	}, []string{"bot", "result"})
	m.attemptTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "alice_agent_attempt_duration_seconds", Help: "How long each agent attempt took.",
		Buckets: []float64{.1, .5, 1, 5, 15, 30, 60, 120, 300, 600, 1800},
	}, []string{"bot"})
	m.commits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alice_store_commits_total", Help: "Store transactions committed (each holds one or more writes).",
	})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "alice_store_commit_writes", Help: "Writes per committed transaction (group commit).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096},
	})
	m.syncTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "alice_store_commit_seconds", Help: "How long badger took to commit and sync a transaction.",
		Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	})
	m.reg.MustRegister(m.requests, m.activations, m.passivations, m.occurrences, m.lateness,
		m.attempts, m.attemptTime, m.commits, m.batchSize, m.syncTime,
		&stored{m: m, bots: bots, totals: totals},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Request is the HTTP API's hook.
func (m *Metrics) Request(method, route string, status int, took time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(took.Seconds())
}

// Activated is the actors' hook for a conversation started.
func (m *Metrics) Activated(k alice.ConversationKey) {
	m.activations.WithLabelValues(k.Bot).Inc()
	m.mu.Lock()
	m.live[k.Bot]++
	m.mu.Unlock()
}

// Passivated is the actors' hook for a conversation stopped.
func (m *Metrics) Passivated(k alice.ConversationKey) {
	m.passivations.WithLabelValues(k.Bot).Inc()
	m.mu.Lock()
	m.live[k.Bot]--
	m.mu.Unlock()
}

// Started is the actors' hook for an occurrence started late by late.
func (m *Metrics) Started(bot string, late time.Duration) {
	m.lateness.WithLabelValues(bot).Observe(max(late, 0).Seconds())
}

// Recorded is the actors' hook for an occurrence recorded.
func (m *Metrics) Recorded(bot string, outcome alice.Outcome) {
	m.occurrences.WithLabelValues(bot, string(outcome)).Inc()
}

// Attempted is the actors' hook for an agent attempt.
func (m *Metrics) Attempted(bot string, a alice.Attempt) {
	m.attempts.WithLabelValues(bot, result(a.Status)).Inc()
	m.attemptTime.WithLabelValues(bot).Observe(float64(a.DurationMS) / 1000)
}

// Committed is the store's hook for a transaction committed.
func (m *Metrics) Committed(writers int, sync time.Duration) {
	m.commits.Inc()
	m.batchSize.Observe(float64(writers))
	m.syncTime.Observe(sync.Seconds())
}

// result folds an attempt's status into a few values, so that the label
// stays small whatever the exit codes.
func result(status string) string {
	switch {
	case status == "":
		return "ok"
	case status == "timeout":
		return "timeout"
	case strings.HasPrefix(status, "exit "):
		return "exit"
	case strings.HasPrefix(status, "signal"):
		return "signal"
	case strings.HasPrefix(status, "http 4"):
		return "http_4xx"
	case strings.HasPrefix(status, "http 5"):
		return "http_5xx"
	}
	return "other"
}

// stored reports, on each scrape, the store's counts of each bot and the
// conversations live in memory against those stored.
type stored struct {
	m      *Metrics
	bots   []string
	totals Totals
}

var (
	liveDesc          = prometheus.NewDesc("alice_conversations_live", "Conversations with an actor in memory.", []string{"bot"}, nil)
	dormantDesc       = prometheus.NewDesc("alice_conversations_dormant", "Stored conversations with no actor in memory.", []string{"bot"}, nil)
	conversationsDesc = prometheus.NewDesc("alice_conversations_stored", "Conversations holding a goal, tasks or messages.", []string{"bot"}, nil)
	outboxDesc        = prometheus.NewDesc("alice_outbox_messages", "Messages in the local outboxes.", []string{"bot"}, nil)
	tasksDesc         = prometheus.NewDesc("alice_tasks_stored", "Tasks of every status.", []string{"bot"}, nil)
)

func (s *stored) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{liveDesc, dormantDesc, conversationsDesc, outboxDesc, tasksDesc} {
		ch <- d
	}
}

func (s *stored) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, bot := range s.bots {
		s.m.mu.Lock()
		live := s.m.live[bot]
		s.m.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(liveDesc, prometheus.GaugeValue, float64(live), bot)
		if s.totals == nil {
			continue
		}
		conversations, messages, tasks, err := s.totals(ctx, bot)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(conversationsDesc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(conversationsDesc, prometheus.GaugeValue, float64(conversations), bot)
		ch <- prometheus.MustNewConstMetric(dormantDesc, prometheus.GaugeValue, float64(max(conversations-live, 0)), bot)
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(messages), bot)
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(tasks), bot)
	}
}
