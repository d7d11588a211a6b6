package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// suiteDescription is the description the upstream e2e suite runs under
// (RunSpecs in k8s.io/kubernetes/test/e2e): ginkgo matches the focus against
// it, a space and the spec's full text.
const suiteDescription = "Kubernetes e2e suite"

// maxSubsetLine bounds one line of the subset file.
const maxSubsetLine = 4096

// ReadSubset reads the subset file: one spec full text per line; blank
// lines and lines starting with '#' are ignored, surrounding spaces trimmed.
// A repeated name, a line that is not UTF-8 or holds a control character,
// or an empty subset is an error.
func ReadSubset(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxSubsetLine)
	var names []string
	seen := map[string]int{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("line %d: not UTF-8", n)
		}
		if strings.IndexFunc(line, unicode.IsControl) >= 0 {
			return nil, fmt.Errorf("line %d: control character in a test name", n)
		}
		if first, dup := seen[line]; dup {
			return nil, fmt.Errorf("line %d: %q repeats line %d", n, line, first)
		}
		seen[line] = n
		names = append(names, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read subset: %w", err)
	}
	if len(names) == 0 {
		return nil, errors.New("the subset lists no test")
	}
	return names, nil
}

// Focus is the ginkgo focus expression that matches exactly the named
// specs of the suite with the given description. Names are trimmed, and a
// few upstream spec texts end with spaces: those may follow a name.
func Focus(description string, names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return "^" + regexp.QuoteMeta(description) + " (?:" + strings.Join(quoted, "|") + ") *$"
}
