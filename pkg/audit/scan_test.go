package audit

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// scanAll is what a backScanner with a buffer of size bytes reads of
// content from its end: the lines, last first, and how many it skipped.
func scanAll(t testing.TB, content []byte, size int) ([]string, int) {
	budget, skipped := int64(1<<40), 0
	s := backScanner{buf: make([]byte, size), budget: &budget, skipped: &skipped}
	s.reset(bytes.NewReader(content), int64(len(content)))
	lines := []string{}
	for {
		line, start, err := s.next()
		if err == io.EOF {
			return lines, skipped
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(content[start:start+int64(len(line))], line) || (start > 0 && content[start-1] != '\n') {
			t.Fatalf("line %q said to start at %d", line, start)
		}
		lines = append(lines, string(line))
	}
}

// wantLines is what scanAll should answer: the complete lines (the bytes
// after the last newline are a line being written), last first; a line
// is read when the buffer holds it with its newline and the newline
// before it, else skipped.
func wantLines(content []byte, size int) ([]string, int) {
	all := strings.Split(string(content), "\n")
	all = all[:len(all)-1]
	lines, skipped := []string{}, 0
	for i := len(all) - 1; i >= 0; i-- {
		room := size - 2
		if i == 0 {
			room = size - 1
		}
		if len(all[i]) > room {
			skipped++
			continue
		}
		lines = append(lines, all[i])
	}
	return lines, skipped
}

func TestBackScanner(t *testing.T) {
	for _, content := range []string{
		"", "\n", "\n\n", "a", "a\n", "a\nb", "a\nbb\n", "abc\n\nde\nfghij\nk\n",
		"0123456789\n0123456789012\nab\n0123456789012345678901234567890123456789\nx\ny\nunfinished",
	} {
		for size := 2; size <= 20; size++ {
			lines, skipped := scanAll(t, []byte(content), size)
			wl, ws := wantLines([]byte(content), size)
			if diff := cmp.Diff(wl, lines); diff != "" || skipped != ws {
				t.Errorf("%q, buffer %d: lines (-want +got):\n%s\nskipped %d, want %d", content, size, diff, skipped, ws)
			}
		}
	}
}

func FuzzBackScanner(f *testing.F) {
	f.Add([]byte("abc\n\nde\nfghij\nk\n"), uint8(4))
	f.Add([]byte("0123456789\n0123456789012\nab\nx"), uint8(7))
	f.Fuzz(func(t *testing.T, content []byte, size uint8) {
		n := int(size)%64 + 2
		lines, skipped := scanAll(t, content, n)
		wl, ws := wantLines(content, n)
		if diff := cmp.Diff(wl, lines); diff != "" || skipped != ws {
			t.Errorf("buffer %d: lines (-want +got):\n%s\nskipped %d, want %d", n, diff, skipped, ws)
		}
	})
}

// TestHugeLineSkipped: a line far longer than MaxLineBytes (a corrupt or
// forged log) is skipped and counted, and the query allocates about its
// buffer, not the line.
func TestHugeLineSkipped(t *testing.T) {
	r, file := writeLog(t, FormatDrover, 1<<30, 1, entry(1, "ada", "c-1", "get", 200))
	file.Write(append(bytes.Repeat([]byte(`{"time":"`), 1<<20), '\n')) // 9 MiB
	New(file, LevelAll).write(entry(2, "ada", "c-1", "get", 200))
	if st, err := os.Stat(filepath.Clean(r.path)); err != nil || st.Size() < 9<<20 {
		t.Fatalf("log: %v %v", st, err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := r.Query(context.Background(), Query{Limit: 10})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{2, 1}, seqs(t, p.Items)); diff != "" || p.Skipped != 1 || p.Truncated {
		t.Errorf("entries (-want +got):\n%s\nskipped %d, truncated %v", diff, p.Skipped, p.Truncated)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*MaxLineBytes {
		t.Errorf("the query allocated %d bytes for a 9 MiB line", got)
	}
}
