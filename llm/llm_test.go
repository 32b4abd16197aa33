package llm

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name   string
		argv   []string
		want   string // reply, or error substring when wantErr
		errors bool
	}{
		{"prompt on stdin, reply on stdout", []string{"tr", "a-z", "A-Z"}, "HELLO AGENT", false},
		{"failure names stderr", []string{"sh", "-c", "echo model overloaded >&2; exit 3"}, "model overloaded", true},
		{"empty reply", []string{"true"}, "replied with nothing", true},
		{"missing program", []string{"no-such-agent-binary"}, "no-such-agent-binary", true},
		{"runaway output is bounded", []string{"sh", "-c", "head -c 2000000 /dev/zero"}, "longer than", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Command{Argv: tt.argv}.Complete(context.Background(), "hello agent")
			if tt.errors {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Complete = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCommandTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := Command{Argv: []string{"sleep", "10"}}.Complete(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}
