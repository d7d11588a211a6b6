package sdk

import (
	"regexp"
	"strings"
	"testing"
)

func TestCheckSnapshotName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"s1", true},
		{"before", true},
		{"Nightly_2026-01-02.1", true},
		{"a", true},
		{"0", true},
		{strings.Repeat("a", 63), true},
		{"a..", true}, // dots inside are fine: it is one file name
		{"", false},
		{strings.Repeat("a", 64), false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"a/b", false},
		{"-rf", false},
		{"_x", false},
		{".hidden", false},
		{"a b", false},
		{"a\x00", false},
		{"a\n", false},
		{"é", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSnapshotName(tc.name)
			if (err == nil) != tc.ok {
				t.Errorf("CheckSnapshotName(%q) = %v, want ok %v", tc.name, err, tc.ok)
			}
			if err != nil && err != ErrSnapshotName {
				t.Errorf("CheckSnapshotName(%q) = %v, want ErrSnapshotName", tc.name, err)
			}
		})
	}
}

// oldSnapshotRE is the rule the server and the local driver each wrote down
// before CheckSnapshotName owned it. Names accepted before must still be
// (snapshots already saved under them), and no others.
var oldSnapshotRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

func FuzzCheckSnapshotName(f *testing.F) {
	f.Add("s1")
	f.Add("../x")
	f.Add(strings.Repeat("a", 64))
	f.Add("a\n")
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := CheckSnapshotName(name) == nil, oldSnapshotRE.MatchString(name); got != want {
			t.Fatalf("CheckSnapshotName(%q) ok = %v, the old rule says %v", name, got, want)
		}
	})
}
