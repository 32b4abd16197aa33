package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alice-runtime/alice"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStoredCounts scrapes the per-bot counts with a store's totals,
// without them, and with totals that fail: the live count is always there.
func TestStoredCounts(t *testing.T) {
	counts := func(context.Context, string) (int64, int64, int64, error) { return 5, 7, 11, nil }
	failing := func(context.Context, string) (int64, int64, int64, error) {
		return 0, 0, 0, errors.New("store closed")
	}
	tests := []struct {
		name          string
		totals        Totals
		want, wantNot []string
	}{
		{"with totals", counts, []string{
			`alice_conversations_live{bot="b"} 1`,
			`alice_conversations_stored{bot="b"} 5`,
			`alice_conversations_dormant{bot="b"} 4`,
			`alice_outbox_messages{bot="b"} 7`,
			`alice_tasks_stored{bot="b"} 11`,
		}, nil},
		{"without totals", nil, []string{`alice_conversations_live{bot="b"} 1`},
			[]string{"alice_conversations_stored", "alice_conversations_dormant", "alice_tasks_stored"}},
		// A store that cannot count leaves its counts out rather than
		// reporting zeros, and the rest of the page is still served.
		{"failing totals", failing, []string{`alice_conversations_live{bot="b"} 1`},
			[]string{"alice_conversations_stored", "alice_conversations_dormant", "alice_tasks_stored"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New([]string{"b"}, tt.totals)
			m.Activated(alice.ConversationKey{Bot: "b"})
			page := scrape(t, m)
			for _, w := range tt.want {
				if !strings.Contains(page, w+"\n") {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(page, w+"{") {
					t.Errorf("page has %s", w)
				}
			}
		})
	}
}
