package httpapi

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/alice-runtime/alice"
)

// limiter is a token bucket per key: a key may spend a whole minute's budget
// at once, then regains it evenly over the minute. Buckets live in an LRU of
// bounded size, so memory stays bounded however many keys callers invent;
// an evicted key starts again with a full bucket, which errs on the side of
// serving a forgotten caller.
type limiter struct {
	perMinute int // 0: unlimited
	clock     alice.Clock
	buckets   *lru.Cache[string, *rate.Limiter]
}

func newLimiter(perMinute, maxKeys int, clock alice.Clock) *limiter {
	buckets, _ := lru.New[string, *rate.Limiter](maxKeys)
	return &limiter{perMinute: perMinute, clock: clock, buckets: buckets}
}

func (l *limiter) bucket(key string) *rate.Limiter {
	if b, ok := l.buckets.Get(key); ok {
		return b
	}
	b := rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)
	if prev, ok, _ := l.buckets.PeekOrAdd(key, b); ok {
		return prev // another request added it first
	}
	return b
}

// allow spends one token of key's bucket. When there is none it spends
// nothing and says how long until there will be one.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l.perMinute == 0 {
		return true, 0
	}
	now := l.clock.Now()
	res := l.bucket(key).ReserveN(now, 1)
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now)
		return false, wait
	}
	return true, 0
}
