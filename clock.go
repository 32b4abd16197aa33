package alice

import "time"

// Clock tells the time. Everything that depends on time takes one, so tests
// can move time instead of sleeping through it.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }
