package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxReportBytes bounds what ReadReport reads: a report of the whole e2e
// suite (every spec listed, most skipped, with the captured output of the
// ones that ran) is a few megabytes.
const maxReportBytes = 256 << 20

// State is a spec's outcome as Ginkgo reports it.
type State string

// The states a Ginkgo v2 report can hold (types.SpecState's names).
const (
	StatePending     State = "pending"
	StateSkipped     State = "skipped"
	StatePassed      State = "passed"
	StateFailed      State = "failed"
	StateAborted     State = "aborted"
	StatePanicked    State = "panicked"
	StateInterrupted State = "interrupted"
	StateTimedout    State = "timedout"
)

var knownStates = map[State]bool{
	StatePending: true, StateSkipped: true, StatePassed: true, StateFailed: true,
	StateAborted: true, StatePanicked: true, StateInterrupted: true, StateTimedout: true,
}

// Ran reports whether a spec in this state was run (rather than skipped or
// pending).
func (s State) Ran() bool { return s != StateSkipped && s != StatePending }

// Result is one spec's outcome.
type Result struct {
	// Name is the spec's full text: its containers' texts and its own,
	// joined by spaces (what ginkgo's focus matches, after the suite's
	// description).
	Name  string
	State State
	// Failure is the failure message (empty unless the spec failed) and
	// Location where it failed, file:line.
	Failure  string
	Location string
	RunTime  time.Duration
}

// Report is what ReadReport keeps of a Ginkgo JSON report.
type Report struct {
	// Specs are the It nodes, run or not, by Name.
	Specs map[string]Result
	// SuiteFailures are failed suite-level nodes (BeforeSuite,
	// AfterSuite, ReportAfterSuite...): Name is the node type.
	SuiteFailures []Result
	// SuiteFailureReasons are Ginkgo's own reasons for failing the
	// suite as a whole (e.g. "Interrupted by User").
	SuiteFailureReasons []string
}

// Ran returns the specs that ran, by Name.
func (r Report) Ran() map[string]Result {
	out := map[string]Result{}
	for n, s := range r.Specs {
		if s.State.Ran() {
			out[n] = s
		}
	}
	return out
}

// The parts of ginkgo's types.Report and types.SpecReport JSON read here.
type jsonReport struct {
	SuiteDescription           string
	SuiteSucceeded             bool
	SpecialSuiteFailureReasons []string
	SpecReports                []jsonSpec
}

type jsonSpec struct {
	ContainerHierarchyTexts []string
	LeafNodeType            string
	LeafNodeText            string
	State                   State
	RunTime                 time.Duration
	Failure                 *struct {
		Message  string
		Location struct {
			FileName   string
			LineNumber int
		}
	}
}

// ReadReport reads a Ginkgo v2 JSON report (--ginkgo.json-report: an array
// of suite reports). It fails on anything it cannot vouch for: no suite, an
// unknown state, an It spec without a name, or two It specs of the same
// name that both ran (the comparison is by name).
func ReadReport(r io.Reader) (Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxReportBytes+1))
	if err != nil {
		return Report{}, fmt.Errorf("read report: %w", err)
	}
	if len(data) > maxReportBytes {
		return Report{}, fmt.Errorf("report larger than %d bytes", maxReportBytes)
	}
	var suites []jsonReport
	if err := json.Unmarshal(data, &suites); err != nil {
		return Report{}, fmt.Errorf("decode report: %w", err)
	}
	if len(suites) == 0 {
		return Report{}, errors.New("report holds no suite")
	}
	out := Report{Specs: map[string]Result{}}
	for _, suite := range suites {
		out.SuiteFailureReasons = append(out.SuiteFailureReasons, suite.SpecialSuiteFailureReasons...)
		for i, s := range suite.SpecReports {
			if !knownStates[s.State] {
				return Report{}, fmt.Errorf("spec %d of suite %q: unknown state %q", i, suite.SuiteDescription, s.State)
			}
			res := Result{State: s.State, RunTime: s.RunTime}
			if s.Failure != nil {
				res.Failure = s.Failure.Message
				if s.Failure.Location.FileName != "" {
					res.Location = s.Failure.Location.FileName + ":" + strconv.Itoa(s.Failure.Location.LineNumber)
				}
			}
			if s.LeafNodeType != "It" {
				if s.State.Ran() && s.State != StatePassed {
					res.Name = s.LeafNodeType
					out.SuiteFailures = append(out.SuiteFailures, res)
				}
				continue
			}
			res.Name = fullText(s.ContainerHierarchyTexts, s.LeafNodeText)
			if res.Name == "" {
				return Report{}, fmt.Errorf("spec %d of suite %q has no name", i, suite.SuiteDescription)
			}
			if prev, dup := out.Specs[res.Name]; dup {
				if prev.State.Ran() && res.State.Ran() {
					return Report{}, fmt.Errorf("spec %q ran twice", res.Name)
				}
				if !res.State.Ran() {
					continue // keep the one that ran
				}
			}
			out.Specs[res.Name] = res
		}
	}
	return out, nil
}

// fullText joins the non-empty texts with spaces, as ginkgo does for focus,
// without surrounding spaces: a few upstream specs end with a space (e.g.
// "[sig-network] Proxy version v1 should proxy logs on node using proxy
// subresource "), and the subset file's names are trimmed.
func fullText(containers []string, leaf string) string {
	var texts []string
	for _, t := range append(containers[:len(containers):len(containers)], leaf) {
		if t != "" {
			texts = append(texts, t)
		}
	}
	return strings.TrimSpace(strings.Join(texts, " "))
}
