package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var base = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// entry is the seq-th test entry: it arrived seq seconds after base, and
// its user id is "u-<seq>".
func entry(seq int, user, cluster, verb string, status int) *Entry {
	e := &Entry{Time: base.Add(time.Duration(seq) * time.Second), Kind: "proxy", User: user, UserID: "u-" + strconv.Itoa(seq),
		Cluster: cluster, Verb: verb, Resource: "pods", Namespace: "web", Name: "n" + strconv.Itoa(seq), Status: status,
		Client: "192.0.2.1", LatencyMS: 1.5, latency: 1500 * time.Microsecond}
	if cluster == "" {
		e.Kind, e.Resource, e.Namespace, e.Name, e.Path = "api", "", "", "", "/v3/users/me"
		e.uri = e.Path
	} else {
		e.uri = "/k8s/clusters/" + cluster + "/api/v1/namespaces/web/pods/" + e.Name
	}
	return e
}

// seqs are the entries' numbers, in order.
func seqs(t *testing.T, items []Entry) []int {
	t.Helper()
	out := []int{}
	for _, e := range items {
		n, err := strconv.Atoi(strings.TrimPrefix(e.UserID, "u-"))
		if err != nil {
			t.Fatalf("entry without a test name: %+v", e)
		}
		out = append(out, n)
	}
	return out
}

// writeLog writes entries to a new log file in format f, rotating at max
// bytes into keep backups, and returns its Reader.
func writeLog(t *testing.T, f Format, max int64, keep int, entries ...*Entry) (*Reader, *File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	file, err := OpenFile(path, max, keep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	l := NewFormat(file, LevelAll, f)
	for _, e := range entries {
		l.write(e)
	}
	return NewReader(Options{Path: path, Level: LevelAll, Format: f, MaxBytes: max, Backups: keep}), file
}

func query(t *testing.T, r *Reader, q Query) Page {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	p, err := r.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("query %+v: %v", q, err)
	}
	return p
}

func filterEntries() []*Entry {
	return []*Entry{
		entry(1, "ada", "c-1", "get", 200),
		entry(2, "bob", "c-1", "list", 200),
		entry(3, "ada", "c-2", "create", 403),
		entry(4, "ldap:alice", "", "get", 200),
		entry(5, "ldap:bob", "c-2", "delete", 500),
		entry(6, "ada", "c-1", "patch", 422),
		entry(7, "adam", "c-1", "get", 404),
		entry(8, "ldap:alice", "c-1", "get", 200),
		entry(9, "x<y&z", "c-3", "get", 200), // escaped in JSON as \u003c and \u0026
	}
}

// TestQueryFilters: each filter, alone and together, in both formats,
// newest first.
func TestQueryFilters(t *testing.T) {
	for _, f := range []Format{FormatDrover, FormatKubernetes} {
		r, _ := writeLog(t, f, 1<<20, 2, filterEntries()...)
		for _, c := range []struct {
			name string
			q    Query
			want []int
		}{
			{"all", Query{}, []int{9, 8, 7, 6, 5, 4, 3, 2, 1}},
			{"user", Query{User: "ada"}, []int{6, 3, 1}},
			{"user needing escapes", Query{User: "x<y&z"}, []int{9}},
			{"user prefix", Query{UserPrefix: "ada"}, []int{7, 6, 3, 1}},
			{"provider's users", Query{UserPrefix: "ldap:"}, []int{8, 5, 4}},
			{"prefix needing escapes", Query{UserPrefix: "x<"}, []int{9}},
			{"cluster", Query{Cluster: "c-2"}, []int{5, 3}},
			{"verb", Query{Verb: "get"}, []int{9, 8, 7, 4, 1}},
			{"status", Query{Status: 200}, []int{9, 8, 4, 2, 1}},
			{"4xx", Query{StatusClass: 4}, []int{7, 6, 3}},
			{"5xx", Query{StatusClass: 5}, []int{5}},
			{"before", Query{Before: base.Add(4 * time.Second)}, []int{3, 2, 1}},
			{"limit", Query{Limit: 2}, []int{9, 8}},
			{"together", Query{User: "ada", Cluster: "c-1", StatusClass: 2}, []int{1}},
			{"no such user", Query{User: "zed"}, []int{}},
			{"a user id is not a user", Query{User: "u-1"}, []int{}},
		} {
			t.Run(fmt.Sprintf("%d/%s", f, c.name), func(t *testing.T) {
				p := query(t, r, c.q)
				if diff := cmp.Diff(c.want, seqs(t, p.Items)); diff != "" {
					t.Errorf("entries (-want +got):\n%s", diff)
				}
				if p.Truncated || p.Skipped != 0 {
					t.Errorf("truncated %v, skipped %d", p.Truncated, p.Skipped)
				}
			})
		}
	}
}

// TestQueryBothFormats: a file holding both formats (the format was
// changed) reads back as the entries written, but for what the Kubernetes
// format does not carry.
func TestQueryBothFormats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	file, err := OpenFile(path, 1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	droverLog, kubeLog := NewFormat(file, LevelAll, FormatDrover), NewFormat(file, LevelAll, FormatKubernetes)
	var want []Entry
	for i, e := range filterEntries() {
		e.Groups, e.As, e.AsGroups, e.TokenID = []string{"devs"}, "jane", []string{"ops"}, "t-"+e.UserID
		e.Time = e.Time.Add(123456 * time.Nanosecond)
		if i%2 == 0 {
			droverLog.write(e)
			want = append(want, *e)
			continue
		}
		kubeLog.write(e)
		k := *e
		k.Time = k.Time.Truncate(time.Microsecond) // MicroTime
		want = append(want, k)
	}
	p := query(t, NewReader(Options{Path: path, Level: LevelAll, Backups: 1}), Query{})
	for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
		want[i], want[j] = want[j], want[i]
	}
	if diff := cmp.Diff(want, p.Items, cmpopts.IgnoreUnexported(Entry{})); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// TestQueryPaging: pages of a log spread over rotated files, by cursor,
// hold every entry once, newest first, whatever the page size; a query's
// Before holds on its later pages.
func TestQueryPaging(t *testing.T) {
	var entries []*Entry
	for i := 1; i <= 40; i++ {
		entries = append(entries, entry(i, "u"+strconv.Itoa(i%3), "c-1", "get", 200))
	}
	// About 7 entries a file: the 40 take the file and 5 backups.
	r, _ := writeLog(t, FormatDrover, 1500, 20, entries...)
	if _, err := os.Stat(r.path + ".5"); err != nil {
		t.Fatalf("the log did not rotate as the test expects: %v", err)
	}
	for _, c := range []struct {
		name string
		q    Query
		want []int
	}{
		{"all, by 1", Query{Limit: 1}, ints(40, 1, 1)},
		{"all, by 7", Query{Limit: 7}, ints(40, 1, 1)},
		{"all, by 40", Query{Limit: 40}, ints(40, 1, 1)},
		{"all, by 100", Query{Limit: 100}, ints(40, 1, 1)},
		{"filtered, by 4", Query{Limit: 4, User: "u0"}, ints(39, 3, 3)},
		{"before, by 5", Query{Limit: 5, Before: base.Add(31 * time.Second)}, ints(30, 1, 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := []int{}
			q := c.q
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				p := query(t, r, q)
				if len(p.Items) > c.q.Limit {
					t.Fatalf("page of %d, limit %d", len(p.Items), c.q.Limit)
				}
				got = append(got, seqs(t, p.Items)...)
				if p.Next.IsZero() {
					break
				}
				// A cursor travels as text; the next page passes its
				// filters again but not its Before (the cursor has it).
				next, err := ParseCursor(p.Next.String())
				if err != nil {
					t.Fatal(err)
				}
				q = Query{Limit: c.q.Limit, User: c.q.User, From: next}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// ints are from, from-step, ... down to to.
func ints(from, to, step int) []int {
	out := []int{}
	for i := from; i >= to; i -= step {
		out = append(out, i)
	}
	return out
}

// TestQueryAcrossRotation: a cursor keeps its place when its file is
// renamed by rotation between two pages, and says it expired when its
// file is dropped.
func TestQueryAcrossRotation(t *testing.T) {
	r, file := writeLog(t, FormatDrover, 1500, 2, entry(1, "a", "c-1", "get", 200), entry(2, "a", "c-1", "get", 200),
		entry(3, "a", "c-1", "get", 200))
	l := New(file, LevelAll)
	p := query(t, r, Query{Limit: 2})
	if diff := cmp.Diff([]int{3, 2}, seqs(t, p.Items)); diff != "" {
		t.Fatalf("first page (-want +got):\n%s", diff)
	}
	// Rotate: audit.log becomes audit.log.1.
	for i := 4; i <= 9; i++ {
		l.write(entry(i, "a", "c-1", "get", 200))
	}
	if _, err := os.Stat(r.path + ".1"); err != nil {
		t.Fatal("no rotation")
	}
	if got := seqs(t, query(t, r, Query{From: p.Next}).Items); !cmp.Equal([]int{1}, got) {
		t.Errorf("after one rotation, the next page = %v, want [1]", got)
	}
	// Two more rotations: the cursor's file is dropped (2 backups kept).
	for i := 10; i <= 30; i++ {
		l.write(entry(i, "a", "c-1", "get", 200))
	}
	if _, err := r.Query(context.Background(), Query{From: p.Next, Limit: 10}); !errors.Is(err, ErrCursorExpired) {
		t.Errorf("cursor into a dropped file: %v, want ErrCursorExpired", err)
	}
}

// TestLogFilesRenamed: a rotation while the files are walked shows no file
// twice and loses none but the one it drops.
func TestLogFilesRenamed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	file, err := OpenFile(path, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, s := range []string{"a\n", "b\n", "c\n", "d\n"} {
		file.Write([]byte(strings.Repeat(s, 4))) // one a file: d, c, b, a
	}
	files := logFiles{r: NewReader(Options{Path: path, Level: LevelAll, Backups: 3})}
	defer files.close()
	var got []string
	for i := 0; ; i++ {
		f, err := files.next()
		if err != nil {
			break
		}
		b := make([]byte, 1)
		f.f.ReadAt(b, 0)
		got = append(got, string(b))
		if i == 0 || i == 1 {
			file.Write([]byte("eeeeeeee\n")) // d→.1, c→.2, b→.3, a dropped; then again
		}
	}
	if diff := cmp.Diff([]string{"d", "c"}, got); diff != "" {
		t.Errorf("files read (-want +got):\n%s", diff)
	}
}

// TestQueryBudget: a scan that reaches its byte budget says so, and its
// cursor goes on from where it stopped, so pages still hold every entry
// once.
func TestQueryBudget(t *testing.T) {
	var entries []*Entry
	for i := 1; i <= 30; i++ {
		entries = append(entries, entry(i, "ada", "c-1", "get", 200))
	}
	r, _ := writeLog(t, FormatDrover, 4000, 5, entries...)
	r.maxLine, r.budget = 400, 1000 // about 3 lines a page
	var got []int
	truncated := 0
	q := Query{Limit: 10}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		p := query(t, r, q)
		got = append(got, seqs(t, p.Items)...)
		if p.Truncated {
			truncated++
			if len(p.Items) >= q.Limit || p.Next.IsZero() {
				t.Fatalf("truncated page of %d entries, next %v", len(p.Items), p.Next)
			}
		}
		if p.Next.IsZero() {
			break
		}
		q.From = p.Next
	}
	if diff := cmp.Diff(ints(30, 1, 1), got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if truncated < 5 {
		t.Errorf("%d truncated pages; the budget was not applied", truncated)
	}
}

// TestQueryWhileWritten: queries run while the log is written and rotated
// (run it with -race): no error, no entry twice in a page.
func TestQueryWhileWritten(t *testing.T) {
	r, file := writeLog(t, FormatDrover, 8000, 3)
	l := New(file, LevelAll)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; ctx.Err() == nil; i++ {
			l.write(entry(i, "ada", "c-1", "get", 200))
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	defer wg.Wait()
	defer cancel()
	for range 50 {
		q := Query{Limit: 30}
		for range 5 {
			p, err := r.Query(context.Background(), q)
			if err != nil && !errors.Is(err, ErrCursorExpired) {
				t.Fatal(err)
			}
			seen := map[int]bool{}
			for _, n := range seqs(t, p.Items) {
				if seen[n] {
					t.Fatalf("entry %d twice in a page", n)
				}
				seen[n] = true
			}
			if p.Next.IsZero() {
				break
			}
			q.From = p.Next
		}
	}
}

// TestQueryNotKept: a log on stdout or off cannot be queried.
func TestQueryNotKept(t *testing.T) {
	for _, o := range []Options{{Path: "-", Level: LevelAll}, {Path: "/x/audit.log", Level: LevelNone}, {Level: LevelAll}} {
		if _, err := NewReader(o).Query(context.Background(), Query{Limit: 1}); !errors.Is(err, ErrNotKept) {
			t.Errorf("%+v: %v, want ErrNotKept", o, err)
		}
	}
}

// TestCursorText: a cursor reads back as written; anything else is
// refused.
func TestCursorText(t *testing.T) {
	c := Cursor{head: [16]byte{1, 2, 3}, n: 512, offset: 1 << 40, before: base.Add(time.Nanosecond)}
	got, err := ParseCursor(c.String())
	if err != nil || !cmp.Equal(c, got, cmp.AllowUnexported(Cursor{})) {
		t.Errorf("round trip: %+v, %v; want %+v", got, err, c)
	}
	c.before = time.Time{}
	if got, err := ParseCursor(c.String()); err != nil || !got.before.IsZero() {
		t.Errorf("without before: %+v, %v", got, err)
	}
	good := c.String()
	for _, s := range []string{"", "2026-12-01T10:00:00Z", good + "A", good[1:], strings.Repeat("A", len(good)),
		Cursor{n: 513}.String(), Cursor{n: 1, offset: 1<<62 + 1}.String(), "!" + good[1:]} {
		if _, err := ParseCursor(s); err == nil {
			t.Errorf("ParseCursor(%q) accepted", s)
		}
	}
}

// BenchmarkQuery: one query scanning MaxScanBytes of lines, all decoded
// (a status no entry has), or passed over undecoded (a user none is).
func BenchmarkQuery(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.log")
	file, err := OpenFile(path, 1<<30, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	for _, f := range []Format{FormatDrover, FormatKubernetes} {
		l := NewFormat(file, LevelAll, f)
		for i := 0; i < 60000; i++ {
			e := entry(i, "ldap:alice", "c-1", "get", 200)
			e.Groups = []string{"ldap:cn=devs,ou=groups,dc=example,dc=org"}
			l.write(e)
		}
	}
	r := NewReader(Options{Path: path, Level: LevelAll, Backups: 1})
	for _, c := range []struct {
		name string
		q    Query
	}{{"decoded", Query{Status: 599, Limit: 10}}, {"passed over", Query{User: "zed", Limit: 10}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				p, err := r.Query(context.Background(), c.q)
				if err != nil || !p.Truncated {
					b.Fatalf("%v, truncated %v", err, p.Truncated)
				}
			}
		})
	}
}
