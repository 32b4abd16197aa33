package alice

import (
	"crypto/rand"
	"io"
	"strings"
	"sync"

	"github.com/oklog/ulid/v2"
)

// IDs makes prefixed ids ("goal_01jh...") that sort by creation time: a ULID
// whose time part comes from the injected clock and whose entropy is
// monotonic within a millisecond, so two ids made in the same millisecond
// still sort in creation order. It is safe for concurrent use.
type IDs struct {
	clock   Clock
	mu      sync.Mutex
	entropy io.Reader
}

// NewIDs returns an id generator reading time from clock.
func NewIDs(clock Clock) *IDs {
	return &IDs{clock: clock, entropy: ulid.Monotonic(rand.Reader, 0)}
}

// New returns a fresh id with the given prefix, e.g. New("goal_").
func (g *IDs) New(prefix string) string {
	ts := ulid.Timestamp(g.clock.Now())
	g.mu.Lock()
	id, err := ulid.New(ts, g.entropy)
	g.mu.Unlock()
	if err != nil {
		// The monotonic counter overflowed within one millisecond (about
		// 2^80 ids): fall back to plain randomness rather than fail.
		id = ulid.MustNew(ts, rand.Reader)
	}
	return prefix + strings.ToLower(id.String())
}
