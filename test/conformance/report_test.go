package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// spec is a SpecReport as ginkgo writes it, cut to what matters here.
func spec(typ string, containers []string, leaf, state, failure string) string {
	var b strings.Builder
	b.WriteString(`{"ContainerHierarchyTexts":[`)
	for i, c := range containers {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"` + c + `"`)
	}
	b.WriteString(`],"LeafNodeType":"` + typ + `","LeafNodeText":"` + leaf + `","State":"` + state + `","RunTime":1500000000`)
	if failure != "" {
		b.WriteString(`,"Failure":{"Message":"` + failure + `","Location":{"FileName":"k8s.io/kubernetes/test/e2e/x.go","LineNumber":42}}`)
	}
	b.WriteString(`,"LeafNodeLocation":{"FileName":"x.go","LineNumber":1},"NumAttempts":1}`)
	return b.String()
}

func suite(specs ...string) string {
	return `[{"SuitePath":"/e2e","SuiteDescription":"Kubernetes e2e suite","SuiteSucceeded":false,` +
		`"PreRunStats":{"TotalSpecs":3,"SpecsThatWillRun":2},"SpecReports":[` + strings.Join(specs, ",") + `]}]`
}

func TestReadReport(t *testing.T) {
	ns := []string{"[sig-api-machinery] Namespaces"}
	passed := Result{Name: "[sig-api-machinery] Namespaces should work [Conformance]", State: StatePassed, RunTime: 1500 * time.Millisecond}
	failed := Result{Name: "[sig-api-machinery] Namespaces should fail", State: StateFailed, RunTime: 1500 * time.Millisecond,
		Failure: "boom\nat line", Location: "k8s.io/kubernetes/test/e2e/x.go:42"}
	skipped := Result{Name: "[sig-node] Pods run", State: StateSkipped, RunTime: 1500 * time.Millisecond}
	tests := []struct {
		name    string
		in      string
		want    Report
		wantErr string
	}{
		{
			name: "passed, failed and skipped specs",
			in: suite(
				spec("It", ns, "should work [Conformance]", "passed", ""),
				spec("It", ns, "should fail", "failed", `boom\nat line`),
				spec("It", []string{"[sig-node] Pods"}, "run", "skipped", ""),
			),
			want: Report{Specs: map[string]Result{passed.Name: passed, failed.Name: failed, skipped.Name: skipped}},
		},
		{
			name: "suite-level failure kept, passing suite nodes dropped",
			in: suite(
				spec("SynchronizedBeforeSuite", nil, "", "failed", "no nodes"),
				spec("ReportAfterSuite", nil, "Kubernetes e2e suite report", "passed", ""),
			),
			want: Report{Specs: map[string]Result{}, SuiteFailures: []Result{{Name: "SynchronizedBeforeSuite",
				State: StateFailed, RunTime: 1500 * time.Millisecond, Failure: "no nodes", Location: "k8s.io/kubernetes/test/e2e/x.go:42"}}},
		},
		{
			name: "empty container texts are not joined",
			in:   suite(spec("It", []string{"", "[sig-cli] Kubectl", ""}, "x", "passed", "")),
			want: Report{Specs: map[string]Result{"[sig-cli] Kubectl x": {Name: "[sig-cli] Kubectl x", State: StatePassed, RunTime: 1500 * time.Millisecond}}},
		},
		{
			name: "a text ending with a space is trimmed",
			in:   suite(spec("It", []string{"[sig-network] Proxy"}, "should proxy logs ", "passed", "")),
			want: Report{Specs: map[string]Result{"[sig-network] Proxy should proxy logs": {Name: "[sig-network] Proxy should proxy logs", State: StatePassed, RunTime: 1500 * time.Millisecond}}},
		},
		{
			name: "a skipped duplicate does not hide the one that ran",
			in:   suite(spec("It", ns, "dup", "passed", ""), spec("It", ns, "dup", "skipped", "")),
			want: Report{Specs: map[string]Result{"[sig-api-machinery] Namespaces dup": {
				Name: "[sig-api-machinery] Namespaces dup", State: StatePassed, RunTime: 1500 * time.Millisecond}}},
		},
		{
			name: "special failure reasons",
			in:   `[{"SuiteDescription":"s","SpecialSuiteFailureReasons":["Interrupted by Timeout"],"SpecReports":[]}]`,
			want: Report{Specs: map[string]Result{}, SuiteFailureReasons: []string{"Interrupted by Timeout"}},
		},
		{name: "two runs of one name", in: suite(spec("It", ns, "dup", "passed", ""), spec("It", ns, "dup", "failed", "x")), wantErr: "ran twice"},
		{name: "unknown state", in: suite(spec("It", ns, "x", "exploded", "")), wantErr: `unknown state "exploded"`},
		{name: "unnamed spec", in: suite(spec("It", nil, "", "passed", "")), wantErr: "no name"},
		{name: "no suite", in: `[]`, wantErr: "no suite"},
		{name: "not an array", in: `{"SpecReports":[]}`, wantErr: "decode report"},
		{name: "truncated", in: suite(spec("It", ns, "x", "passed", ""))[:40], wantErr: "decode report"},
		{name: "empty", in: ``, wantErr: "decode report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadReport(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadReport() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadReport() error = %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ReadReport() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestReportRan(t *testing.T) {
	r := Report{Specs: map[string]Result{
		"a": {Name: "a", State: StatePassed}, "b": {Name: "b", State: StateSkipped},
		"c": {Name: "c", State: StateTimedout}, "d": {Name: "d", State: StatePending},
	}}
	want := map[string]Result{"a": r.Specs["a"], "c": r.Specs["c"]}
	if d := cmp.Diff(want, r.Ran()); d != "" {
		t.Errorf("Ran() mismatch (-want +got):\n%s", d)
	}
}

// FuzzReadReport: any input either fails or yields a report whose specs
// are named after their keys, in known states.
func FuzzReadReport(f *testing.F) {
	ns := []string{"[sig-auth] SelfSubjectReview"}
	f.Add(suite(spec("It", ns, "should work", "passed", ""), spec("It", ns, "b", "failed", "x")))
	f.Add(suite(spec("BeforeSuite", nil, "", "panicked", "p")))
	f.Add(`[{"SpecReports":[{"LeafNodeType":"It","LeafNodeText":"a","State":"timedout","Failure":{}}]}]`)
	f.Add(`[{},{}]`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ReadReport(strings.NewReader(in))
		if err != nil {
			return
		}
		for name, s := range r.Specs {
			if name == "" || name != s.Name {
				t.Errorf("spec keyed %q is named %q", name, s.Name)
			}
			if !knownStates[s.State] {
				t.Errorf("spec %q has unknown state %q", name, s.State)
			}
		}
		for _, s := range r.SuiteFailures {
			if !s.State.Ran() || s.State == StatePassed {
				t.Errorf("suite failure %q in state %q", s.Name, s.State)
			}
		}
	})
}
