package alice

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuoteAndTruncate(t *testing.T) {
	long := strings.Repeat("a", 99) + "é" + strings.Repeat("b", 50) // é straddles byte 100
	tests := []struct {
		name, in      string
		quote         string
		truncate10    string
		truncateBytes int
	}{
		{"short", "abc", `"abc"`, "abc", 3},
		{"exactly ten", "0123456789", `"0123456789"`, "0123456789", 10},
		{"cut", "0123456789x", `"0123456789x"`, "0123456...", 10},
		{"cut inside a rune", "012345ééé", `"012345ééé"`, "012345...", 9},
		{"long quote cut on a rune boundary", long, `"` + strings.Repeat("a", 99) + `"...`, "aaaaaaa...", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quote(tt.in); got != tt.quote {
				t.Errorf("Quote = %s, want %s", got, tt.quote)
			}
			got := Truncate(tt.in, 10)
			if got != tt.truncate10 || len(got) != tt.truncateBytes || !utf8.ValidString(got) {
				t.Errorf("Truncate(10) = %q (%d bytes), want %q", got, len(got), tt.truncate10)
			}
		})
	}
}
