package await

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatalf keeps the message and ends the
// calling goroutine, as the real one does.
type recorder struct {
	testing.TB
	fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestUntil(t *testing.T) {
	tests := []struct {
		name      string
		trueAfter int // calls before cond holds; -1: never
		limit     time.Duration
		wantFatal string
	}{
		{name: "holds at once", trueAfter: 0, limit: time.Second},
		{name: "holds after some polls", trueAfter: 3, limit: 10 * time.Second},
		{name: "never holds", trueAfter: -1, limit: 30 * time.Millisecond, wantFatal: "timed out after 30ms waiting for the thing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			calls := 0
			cond := func() bool {
				calls++
				return tt.trueAfter >= 0 && calls > tt.trueAfter
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Until(r, tt.limit, "the thing", cond)
			}()
			<-done
			if r.fatal != tt.wantFatal {
				t.Fatalf("fatal %q, want %q", r.fatal, tt.wantFatal)
			}
			if tt.trueAfter >= 0 && calls != tt.trueAfter+1 {
				t.Fatalf("cond called %d times, want %d: Until must stop once it holds", calls, tt.trueAfter+1)
			}
		})
	}
}
