package actors

import (
	"testing"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/contracttest"
)

// TestContract runs the services' contract suite against the runtime
// in-process; client runs the same suite over HTTP.
func TestContract(t *testing.T) {
	contracttest.Run(t, func(t *testing.T) alice.Services {
		return startRuntime(t, Config{Store: openStore(t, t.TempDir()), Bots: map[string]BotConfig{"main": mainBot()}}).Bot("main")
	})
}
