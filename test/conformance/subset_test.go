package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadSubset(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{
			name: "comments, blanks and spaces",
			in:   "# how chosen\n\n  [sig-auth] A should b [Conformance]  \n#x\n[sig-cli] K c\n",
			want: []string{"[sig-auth] A should b [Conformance]", "[sig-cli] K c"},
		},
		{name: "no trailing newline", in: "a", want: []string{"a"}},
		{name: "CRLF", in: "a\r\nb\r\n", want: []string{"a", "b"}},
		{name: "repeated", in: "a\nb\na\n", wantErr: `line 3: "a" repeats line 1`},
		{name: "control character", in: "a\tb\n", wantErr: "control character"},
		{name: "not UTF-8", in: "a\xffb\n", wantErr: "line 1: not UTF-8"},
		{name: "only comments", in: "# none\n\n", wantErr: "no test"},
		{name: "empty", in: "", wantErr: "no test"},
		{name: "line too long", in: strings.Repeat("x", maxSubsetLine+1), wantErr: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSubset(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadSubset() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadSubset() error = %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ReadSubset() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestFocus checks that the focus matches exactly the listed specs as
// ginkgo presents them (description, a space, the full text).
func TestFocus(t *testing.T) {
	names := []string{
		"[sig-api-machinery] Servers with support for Table transformation should return a 406 for a backend which does not implement metadata [Conformance]",
		"[sig-cli] Kubectl client Proxy server should support --unix-socket=/path  [Conformance]",
		"a (b)* c? $1",
	}
	re, err := regexp.Compile(Focus(suiteDescription, names))
	if err != nil {
		t.Fatalf("Focus does not compile: %v", err)
	}
	tests := []struct {
		text string
		want bool
	}{
		{suiteDescription + " " + names[0], true},
		{suiteDescription + " " + names[1], true},
		{suiteDescription + " " + names[2], true},
		{suiteDescription + " " + names[2] + " ", true}, // upstream texts that end with a space
		{suiteDescription + " " + names[2] + " x", false},
		{names[0], false}, // without the description
		{suiteDescription + " " + names[0] + " [Slow]", false},
		{suiteDescription + " x " + names[1], false},
		{suiteDescription + " a b c 1", false},
		{"Other suite " + names[0], false},
	}
	for _, tt := range tests {
		if got := re.MatchString(tt.text); got != tt.want {
			t.Errorf("focus matches %q: %v, want %v", tt.text, got, tt.want)
		}
	}
}

// TestCheckedInSubset reads tests.txt and tests-nodes.txt: each must parse,
// list only tests of the SIGs it was chosen from and none of the kinds it
// leaves out, and make a focus that compiles; no test is in both.
func TestCheckedInSubset(t *testing.T) {
	tests := []struct {
		file string
		sigs string
		// minConformance is the least share of [Conformance] tests.
		minConformance float64
	}{
		{file: "tests.txt", sigs: `^\[sig-(api-machinery|auth|cli)\] `, minConformance: 0.5},
		{file: "tests-nodes.txt", sigs: `^\[sig-(api-machinery|auth|cli|node|network)\] `, minConformance: 0.3},
	}
	left := regexp.MustCompile(`\[(Slow|Disruptive|Flaky|Feature:[^]]*)\]`)
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			names, err := ReadSubset(f)
			if err != nil {
				t.Fatal(err)
			}
			sig := regexp.MustCompile(tt.sigs)
			conformance := 0
			for _, n := range names {
				if !sig.MatchString(n) {
					t.Errorf("%q is not a test of the SIGs %s", n, tt.sigs)
				}
				if m := left.FindString(n); m != "" {
					t.Errorf("%q is %s, which the subset leaves out", n, m)
				}
				if strings.HasSuffix(n, "[Conformance]") {
					conformance++
				}
				if other, dup := seen[n]; dup {
					t.Errorf("%q is in %s and %s", n, other, tt.file)
				}
				seen[n] = tt.file
			}
			if float64(conformance) < tt.minConformance*float64(len(names)) {
				t.Errorf("%d of %d tests are [Conformance], want at least %.0f%%", conformance, len(names), 100*tt.minConformance)
			}
			if _, err := regexp.Compile(Focus(suiteDescription, names)); err != nil {
				t.Errorf("focus of %s does not compile: %v", tt.file, err)
			}
		})
	}
}

// FuzzReadSubset: whatever the input, a parsed subset has unique, trimmed,
// non-comment names, and its focus matches each of them.
func FuzzReadSubset(f *testing.F) {
	f.Add("# c\n[sig-auth] a [Conformance]\n\nb\n")
	f.Add("a\r\nb")
	f.Add("a\na\n")
	f.Add("(\n[\n\\\n")
	f.Fuzz(func(t *testing.T, in string) {
		names, err := ReadSubset(strings.NewReader(in))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range names {
			if n == "" || n != strings.TrimSpace(n) || strings.HasPrefix(n, "#") || seen[n] {
				t.Errorf("bad name %q in %q", n, names)
			}
			seen[n] = true
		}
		re, err := regexp.Compile(Focus(suiteDescription, names))
		if err != nil {
			t.Fatalf("focus does not compile: %v", err)
		}
		for _, n := range names {
			if !re.MatchString(suiteDescription + " " + n) {
				t.Errorf("focus does not match %q", n)
			}
		}
	})
}
