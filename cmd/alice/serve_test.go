package main

import (
	"io"
	"log/slog"
	"testing"
)

func TestApplyMemoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit uint64
		env   string
		want  int64 // -1: the runtime's limit is left alone
	}{
		{"configured limit", 768 << 20, "", 768 << 20},
		{"off", 0, "", -1},
		{"GOMEMLIMIT wins", 768 << 20, "2GiB", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := int64(-1)
			getenv := func(k string) string {
				if k == "GOMEMLIMIT" {
					return tt.env
				}
				return ""
			}
			set := func(n int64) int64 { got = n; return 0 }
			applyMemoryLimit(tt.limit, getenv, set, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if got != tt.want {
				t.Errorf("limit set = %d, want %d", got, tt.want)
			}
		})
	}
}
