package authproxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// readAll reads a followed log that ends cleanly (no resume) through a
// logsBody.
func readAll(t *testing.T, in string, strip bool) string {
	t.Helper()
	body := io.NopCloser(strings.NewReader(in))
	l := &logsBody{ctx: context.Background(), body: body, br: bufio.NewReaderSize(body, maxLogLine), strip: strip}
	out, err := io.ReadAll(l)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(out)
}

func TestLogsBodyLines(t *testing.T) {
	long := strings.Repeat("x", 3*maxLogLine)
	tests := []struct {
		name, in, want string
		strip          bool
	}{
		{name: "kept", in: "2026-12-06T20:00:00.1Z a\n2026-12-06T20:00:00.2Z b\n", want: "2026-12-06T20:00:00.1Z a\n2026-12-06T20:00:00.2Z b\n"},
		{name: "stripped", in: "2026-12-06T20:00:00.1Z a\n2026-12-06T20:00:00.2Z b c\n", want: "a\nb c\n", strip: true},
		{name: "last line without newline", in: "2026-12-06T20:00:00.1Z a\n2026-12-06T20:00:00.2Z b", want: "a\nb", strip: true},
		{name: "not timestamped", in: "plain\n", want: "plain\n", strip: true},
		{name: "empty line", in: "2026-12-06T20:00:00.1Z \n", want: "\n", strip: true},
		{name: "long line in pieces", in: "2026-12-06T20:00:00.1Z " + long + "\n2026-12-06T20:00:00.2Z b\n", want: long + "\nb\n", strip: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := readAll(t, tc.in, tc.strip); got != tc.want {
				t.Errorf("got %q, want %q", trim(got), trim(tc.want))
			}
		})
	}
}

// TestLogsBodySkip: after a resume, the lines up to the last delivered are
// dropped, those after it handed on.
func TestLogsBodySkip(t *testing.T) {
	in := "2026-12-06T20:00:00.1Z a\n2026-12-06T20:00:00.2Z b\n2026-12-06T20:00:00.3Z c\n"
	body := io.NopCloser(strings.NewReader(in))
	l := &logsBody{ctx: context.Background(), body: body, br: bufio.NewReaderSize(body, maxLogLine), strip: true,
		skip: time.Date(2026, 12, 6, 20, 0, 0, 200_000_000, time.UTC)}
	out, err := io.ReadAll(l)
	if err != nil || string(out) != "c\n" {
		t.Errorf("got %q, %v; want only the line after the last delivered", out, err)
	}
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:40] + "…" + s[len(s)-40:]
	}
	return s
}

// FuzzLogsBody: a followed log that ends cleanly comes out as it went in
// (strip off), and with every line's leading timestamp removed (strip on).
func FuzzLogsBody(f *testing.F) {
	f.Add("2026-12-06T20:00:00.1Z a\nb\n")
	f.Add("x")
	f.Add("2026-12-06T20:00:00Z \n\n")
	f.Fuzz(func(t *testing.T, in string) {
		if got := readAll(t, in, false); got != in {
			t.Fatalf("unstripped: %q became %q", in, got)
		}
		var want bytes.Buffer
		for _, line := range strings.SplitAfter(in, "\n") {
			stamp, rest, ok := strings.Cut(line, " ")
			if _, err := time.Parse(time.RFC3339Nano, stamp); ok && err == nil {
				line = rest
			}
			want.WriteString(line)
		}
		if got := readAll(t, in, true); got != want.String() {
			t.Fatalf("stripped: %q became %q, want %q", in, got, want.String())
		}
	})
}
