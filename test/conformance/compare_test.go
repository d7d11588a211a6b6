package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func report(rs ...Result) Report {
	r := Report{Specs: map[string]Result{}}
	for _, x := range rs {
		r.Specs[x.Name] = x
	}
	return r
}

func TestCompare(t *testing.T) {
	pass := func(n string) Result { return Result{Name: n, State: StatePassed} }
	fail := func(n string) Result { return Result{Name: n, State: StateFailed, Failure: "no"} }
	with := func(n string, s State) Result { return Result{Name: n, State: s} }
	names := []string{"b", "a", "c", "d"}
	tests := []struct {
		name             string
		names            []string
		straight, drover Report
		want             Comparison
		wantErr          []string
	}{
		{
			name:     "same outcomes",
			names:    names,
			straight: report(pass("a"), pass("b"), pass("c"), fail("d")),
			drover:   report(pass("a"), pass("b"), pass("c"), fail("d")),
			want: Comparison{Straight: Totals{Passed: 3, Failed: 1}, Drover: Totals{Passed: 3, Failed: 1},
				BothFailed: []Diff{{Name: "d", Straight: fail("d"), Drover: fail("d")}}},
		},
		{
			name:     "differences sorted by name; any ran state but passed fails",
			names:    names,
			straight: report(pass("a"), pass("b"), fail("c"), pass("d")),
			drover:   report(pass("a"), with("b", StateTimedout), pass("c"), with("d", StatePanicked)),
			want: Comparison{Straight: Totals{Passed: 3, Failed: 1}, Drover: Totals{Passed: 2, Failed: 2},
				Differ: []Diff{
					{Name: "b", Straight: pass("b"), Drover: with("b", StateTimedout)},
					{Name: "c", Straight: fail("c"), Drover: pass("c")},
					{Name: "d", Straight: pass("d"), Drover: with("d", StatePanicked)},
				}},
		},
		{
			name:     "listed test skipped or missing on a path",
			names:    []string{"a", "b"},
			straight: report(pass("a"), with("b", StateSkipped)),
			drover:   report(pass("a")),
			wantErr:  []string{"straight: 1 listed tests did not run", "drover: 1 listed tests did not run"},
		},
		{
			name:     "unlisted test ran",
			names:    []string{"a"},
			straight: report(pass("a"), pass("z"), with("y", StateSkipped)),
			drover:   report(pass("a")),
			wantErr:  []string{"straight: 1 unlisted tests ran", "\n  z"},
		},
		{
			name:     "suite failures",
			names:    []string{"a"},
			straight: Report{Specs: report(pass("a")).Specs, SuiteFailures: []Result{{Name: "SynchronizedBeforeSuite", State: StateFailed, Failure: "no nodes\nmore"}}},
			drover:   Report{Specs: report(pass("a")).Specs, SuiteFailureReasons: []string{"Interrupted by Timeout"}},
			wantErr:  []string{"straight: SynchronizedBeforeSuite failed: no nodes", "drover: suite failed: Interrupted by Timeout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compare(tt.names, tt.straight, tt.drover)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("Compare() succeeded, want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Compare() error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Compare() error = %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Compare() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestFirstLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"one", "one"},
		{"\n\n  two  \nthree", "two"},
		{"   \n", ""},
	}
	for _, tt := range tests {
		if got := firstLine(tt.in); got != tt.want {
			t.Errorf("firstLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"longer text", 6, "longer…"},
		{"héllo", 2, "h…"}, // never half a rune
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := clip(tt.in, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCompareStraight(t *testing.T) {
	pass := func(n string) Result { return Result{Name: n, State: StatePassed} }
	fail := func(n string, s State) Result { return Result{Name: n, State: s, Failure: "no"} }
	tests := []struct {
		name    string
		names   []string
		r       Report
		want    Straight
		wantErr string
	}{
		{
			name:  "sorted by outcome and name",
			names: []string{"c", "a", "b", "d"},
			r:     report(pass("c"), fail("a", StateFailed), pass("b"), fail("d", StateTimedout)),
			want:  Straight{Passed: []string{"b", "c"}, Failed: []Result{fail("a", StateFailed), fail("d", StateTimedout)}},
		},
		{name: "a listed test did not run", names: []string{"a", "b"}, r: report(pass("a")), wantErr: "did not run"},
		{name: "an unlisted test ran", names: []string{"a"}, r: report(pass("a"), pass("z")), wantErr: "unlisted"},
		{name: "a suite failure", names: []string{"a"}, r: Report{Specs: map[string]Result{"a": pass("a")},
			SuiteFailures: []Result{{Name: "SynchronizedBeforeSuite", State: StateFailed}}}, wantErr: "SynchronizedBeforeSuite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CompareStraight(tt.names, tt.r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CompareStraight() error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
