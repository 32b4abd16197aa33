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
		groups  map[int]uint64
		wantErr bool
	}{
		{"boot b1\nruntime 10 20\n", "b1", process{10, 20}, map[int]uint64{}, false},
		{"boot b1\nruntime 10 20\n42 7\n43 8\n", "b1", process{10, 20}, map[int]uint64{42: 7, 43: 8}, false},
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
	r.Started(1234) // must not panic
	r.Ended(1234)
}
