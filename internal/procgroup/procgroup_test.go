package procgroup

import (
	"maps"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		boot    string
		groups  map[int]uint64
		wantErr bool
	}{
		{"boot b1\n", "b1", map[int]uint64{}, false},
		{"boot b1\n42 7\n43 8\n", "b1", map[int]uint64{42: 7, 43: 8}, false},
		{"", "", nil, true},
		{"42 7\n", "", nil, true},
		{"boot \n", "", nil, true},
		{"boot b1\n42\n", "", nil, true},
		{"boot b1\n42 x\n", "", nil, true},
		{"boot b1\n-5 7\n", "", nil, true},
		{"boot b1\n1 7\n", "", nil, true}, // kill(-1) would reach every process
	}
	for _, tc := range cases {
		boot, groups, err := parse([]byte(tc.in))
		if (err != nil) != tc.wantErr {
			t.Errorf("parse(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if boot != tc.boot || !maps.Equal(groups, tc.groups) {
			t.Errorf("parse(%q) = %q %v, want %q %v", tc.in, boot, groups, tc.boot, tc.groups)
		}
	}
}

func TestANilRegistryRecordsNothing(t *testing.T) {
	var r *Registry
	r.Started(1234) // must not panic
	r.Ended(1234)
}
