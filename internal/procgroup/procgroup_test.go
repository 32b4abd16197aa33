package procgroup

import (
	"maps"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		boot    string
		writer  process
		groups  map[int]group
		wantErr bool
	}{
		{"boot b1\nruntime 10 20\n", "b1", process{10, 20}, map[int]group{}, false},
		{"boot b1\nruntime 10 20\n42 7\n43 8\n", "b1", process{10, 20}, map[int]group{42: {7, ""}, 43: {8, ""}}, false},
		{"boot b1\nruntime 10 20\n42 7 RUN=0123456789abcdef\n43 8\n", "b1", process{10, 20}, map[int]group{42: {7, "RUN=0123456789abcdef"}, 43: {8, ""}}, false},
		{"boot b1\nruntime 10 20\n42 7 0123456789abcdef\n", "", process{}, nil, true}, // a mark is NAME=value
		{"boot b1\nruntime 10 20\n42 7 LANG=C.UTF-8\n", "", process{}, nil, true},     // and not one every process has
		{"boot b1\nruntime 10 20\n42 7 RUN=0123456789abcdef x\n", "", process{}, nil, true},
		{"", "", process{}, nil, true},
		{"42 7\n", "", process{}, nil, true},
		{"boot \nruntime 10 20\n", "", process{}, nil, true},
		{"boot b1\n", "", process{}, nil, true},
		{"boot b1\n10 20\n", "", process{}, nil, true},
		{"boot b1\nruntime 10\n", "", process{}, nil, true},
		{"boot b1\nruntime 10 20\n42\n", "", process{}, nil, true},
		{"boot b1\nruntime 10 20\n42 x\n", "", process{}, nil, true},
		{"boot b1\nruntime 10 20\n-5 7\n", "", process{}, nil, true},
		{"boot b1\nruntime 10 20\n1 7\n", "", process{}, nil, true}, // kill(-1) would reach every process
	}
	for _, tc := range cases {
		boot, writer, groups, err := parse([]byte(tc.in))
		if (err != nil) != tc.wantErr {
			t.Errorf("parse(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if boot != tc.boot || writer != tc.writer || !maps.Equal(groups, tc.groups) {
			t.Errorf("parse(%q) = %q %v %v, want %q %v %v", tc.in, boot, writer, groups, tc.boot, tc.writer, tc.groups)
		}
	}
}

func TestANilRegistryRecordsNothing(t *testing.T) {
	var r *Registry
	r.Started(1234, "RUN=0123456789abcdef") // must not panic
	r.Ended(1234)
}

func TestValidMark(t *testing.T) {
	for _, tc := range []struct {
		mark string
		want bool
	}{
		{"ALICE_AGENT_RUN=0123456789abcdef01234567", true},
		{"R=0123456789abcdef", true},
		{"", false},
		{"ALICE_AGENT_RUN", false},
		{"=0123456789abcdef", false},
		{"ALICE_AGENT_RUN=0123456789abcde", false}, // too short to be a run's alone
		{"PATH=/usr/bin:/bin", false},
		{"LANG=C.UTF-8", false},
		{"ALICE_AGENT_RUN=0123456789ABCDEF", false},
		{"alice=0123456789abcdef", false},
		{"ALICE AGENT=0123456789abcdef", false},
	} {
		if got := validMark(tc.mark); got != tc.want {
			t.Errorf("validMark(%q) = %v, want %v", tc.mark, got, tc.want)
		}
	}
}
