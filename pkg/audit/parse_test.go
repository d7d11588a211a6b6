package audit

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseLineRefuses(t *testing.T) {
	for _, line := range []string{
		"", "{", "null", "[]", `"x"`, `{}`, `{"kind":"api","verb":"get"}`, `{"time":"yesterday"}`,
		`{"time":"2026-12-01T10:00:00Z","status":"200"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","requestReceivedTimestamp":"2026-12-01T10:00:00.000000Z","user":"ada"}`,
	} {
		if e, err := ParseLine([]byte(line)); err == nil {
			t.Errorf("ParseLine(%q) = %+v, want an error", line, e)
		}
	}
}

// FuzzParseLine: any line parses or is refused, never panics; what parses
// writes back (in Drover's format) as a line that parses to the same
// entry.
func FuzzParseLine(f *testing.F) {
	var b bytes.Buffer
	e := entry(1, "ada", "c-1", "get", 200)
	e.Groups, e.As, e.TokenID = []string{"devs"}, "jane", "t-1"
	New(&b, LevelAll).write(e)
	NewFormat(&b, LevelAll, FormatKubernetes).write(e)
	NewFormat(&b, LevelAll, FormatKubernetes).write(entry(2, "bob", "", "post", 403))
	for _, line := range bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n")) {
		f.Add(line)
	}
	f.Add([]byte(`{"time":"2026-12-01T10:00:00Z","kind":"Event","apiVersion":"audit.k8s.io/v1"}`))
	f.Add([]byte(`{"time":"2026-12-01T10:00:00Z","groups":null,"status":-1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseLine(line)
		if err != nil {
			return
		}
		out, err := json.Marshal(e)
		if err != nil {
			return // a time json cannot write (year past 9999)
		}
		again, err := ParseLine(out)
		if err != nil {
			t.Fatalf("%s parsed, and its entry %s does not: %v", line, out, err)
		}
		if diff := cmp.Diff(e, again, cmpopts.IgnoreUnexported(Entry{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: round trip (-first +second):\n%s", line, diff)
		}
	})
}
