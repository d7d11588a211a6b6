package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Totals count the outcomes of one path's listed specs.
type Totals struct {
	Passed, Failed int
}

// Diff is a spec whose outcome differs between the two paths.
type Diff struct {
	Name             string
	Straight, Drover Result
}

// Comparison is the outcome of a run on both paths.
type Comparison struct {
	Straight, Drover Totals
	// Differ lists the specs whose outcome differs, BothFailed those that
	// failed on both paths; both sorted by name.
	Differ     []Diff
	BothFailed []Diff
}

// Compare checks that each report ran exactly the listed specs and that
// neither suite failed outside a spec, then compares them spec by spec: a
// spec passes on a path when its state is passed; every other state that
// ran (failed, timedout, panicked...) is a failure.
func Compare(names []string, straight, drover Report) (Comparison, error) {
	if err := errors.Join(checkRan("straight", names, straight), checkRan("drover", names, drover)); err != nil {
		return Comparison{}, err
	}
	var c Comparison
	for _, n := range slices.Sorted(slices.Values(names)) {
		s, d := straight.Specs[n], drover.Specs[n]
		count(&c.Straight, s)
		count(&c.Drover, d)
		sp, dp := s.State == StatePassed, d.State == StatePassed
		switch {
		case sp != dp:
			c.Differ = append(c.Differ, Diff{Name: n, Straight: s, Drover: d})
		case !sp:
			c.BothFailed = append(c.BothFailed, Diff{Name: n, Straight: s, Drover: d})
		}
	}
	return c, nil
}

func count(t *Totals, r Result) {
	if r.State == StatePassed {
		t.Passed++
	} else {
		t.Failed++
	}
}

// checkRan fails when a listed spec did not run, an unlisted one ran, or the
// suite failed outside its specs.
func checkRan(path string, names []string, r Report) error {
	var errs []error
	for _, f := range r.SuiteFailures {
		errs = append(errs, fmt.Errorf("%s: %s %s: %s", path, f.Name, f.State, firstLine(f.Failure)))
	}
	for _, reason := range r.SuiteFailureReasons {
		errs = append(errs, fmt.Errorf("%s: suite failed: %s", path, reason))
	}
	ran := r.Ran()
	listed := map[string]bool{}
	var missing []string
	for _, n := range names {
		listed[n] = true
		if _, ok := ran[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%s: %d listed tests did not run (renamed upstream, or the run stopped early?):\n  %s",
			path, len(missing), strings.Join(missing, "\n  ")))
	}
	var extra []string
	for n := range ran {
		if !listed[n] {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		errs = append(errs, fmt.Errorf("%s: %d unlisted tests ran (the focus matched more than the list):\n  %s",
			path, len(extra), strings.Join(extra, "\n  ")))
	}
	return errors.Join(errs...)
}

// firstLine is the first non-empty line of s, trimmed.
func firstLine(s string) string {
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// clip cuts s to n bytes at most (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Straight is the outcome of a straight-only run: the listed specs that
// passed and those that did not, sorted by name.
type Straight struct {
	Passed []string
	Failed []Result
}

// CompareStraight checks the report as Compare does (exactly the listed
// specs ran, no suite failure) and sorts the specs by outcome.
func CompareStraight(names []string, r Report) (Straight, error) {
	if err := checkRan("straight", names, r); err != nil {
		return Straight{}, err
	}
	var s Straight
	for _, n := range slices.Sorted(slices.Values(names)) {
		if res := r.Specs[n]; res.State == StatePassed {
			s.Passed = append(s.Passed, n)
		} else {
			s.Failed = append(s.Failed, res)
		}
	}
	return s, nil
}
