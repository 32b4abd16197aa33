package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/alice-runtime/alice"
)

// The server's own timing of its answers, from GET /metrics: how long the
// handler took, without the time a request and its answer spend in the
// sockets and in the run queues of this tool, which shares the cores. The
// writes scenario reports it beside the client's p99, so that the two
// views of the same requests can be told apart.

// requestDurations is the histogram the server times its answers in.
const requestDurations = "alice_http_request_duration_seconds"

// servedBound is the bucket boundary the writes scenario reads: the p99
// target of durable writes (BENCHMARKS.md).
const servedBound = 0.025

// answerKind is one series of requestDurations.
type answerKind struct{ method, route, status string }

// served counts answers of some kinds: all, and those within a bound.
type served struct{ within, all uint64 }

func (s served) minus(before served) served {
	return served{within: s.within - before.within, all: s.all - before.all}
}

func (s served) plus(more served) served {
	return served{within: s.within + more.within, all: s.all + more.all}
}

// share is the part of the answers within the bound, as a percentage.
func (s served) share() string {
	if s.all == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(s.within)/float64(s.all))
}

// answered reads the target's metrics and sums the answers of kinds, and
// those that took at most bound seconds (a boundary of the histogram). A
// server that serves no metrics (one embedded without them, measured with
// -url) counts nothing, which the table shows as "-".
func (t *target) answered(kinds []answerKind, bound float64) (served, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, body, err := t.client().Raw(ctx, http.MethodGet, "/metrics", zeroConv, "", nil)
	if alice.ErrorCode(err) == alice.ENotFound {
		return served{}, nil
	}
	if err != nil {
		return served{}, fmt.Errorf("read the server's metrics: %w", err)
	}
	if status != http.StatusOK {
		return served{}, fmt.Errorf("read the server's metrics: status %d", status)
	}
	return countServed(body, kinds, bound)
}

// countServed sums, in a metrics page of the text format, the answers of
// kinds and those within bound.
func countServed(page []byte, kinds []answerKind, bound float64) (served, error) {
	var p expfmt.TextParser
	families, err := p.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		return served{}, fmt.Errorf("parse the server's metrics: %w", err)
	}
	var s served
	for _, m := range families[requestDurations].GetMetric() {
		var k answerKind
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "method":
				k.method = l.GetValue()
			case "route":
				k.route = l.GetValue()
			case "status":
				k.status = l.GetValue()
			}
		}
		if !slices.Contains(kinds, k) {
			continue
		}
		h := m.GetHistogram()
		i := slices.IndexFunc(h.GetBucket(), func(b *dto.Bucket) bool { return b.GetUpperBound() == bound })
		if i < 0 {
			return served{}, fmt.Errorf("%s has no bucket at %g s", requestDurations, bound)
		}
		s.all += h.GetSampleCount()
		s.within += h.GetBucket()[i].GetCumulativeCount()
	}
	return s, nil
}
