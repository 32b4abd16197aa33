package main

import (
	"context"
	"strings"
	"testing"
)

// TestEmbed runs the example as go run would, and checks what it did: the
// services called in process, the API and the bot's own route on one mux,
// and an orderly stop.
func TestEmbed(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), options{dataDir: t.TempDir(), addr: "127.0.0.1:0"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"goal in_progress: Publish the weekly digest",
		"task send_text scheduled",
		`outbox: "The digest is out"`,
		"GET /api/v1/goal: 200",
		"GET /bot/status: the larger bot is fine",
		"stopped",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
