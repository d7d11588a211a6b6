package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Bounds of a query (Reader).
const (
	// MaxScanBytes is what one query reads of the log at most; past it the
	// page says Truncated and where to go on.
	MaxScanBytes = 32 << 20
	// MaxLineBytes is the longest line read; longer ones are skipped
	// without being held. Drover's lines are well under 1 KiB unless a
	// user has thousands of groups.
	MaxLineBytes = 256 << 10
	// MaxQueries run at once; more wait their turn.
	MaxQueries = 2
)

// ErrNotKept is a query of a log that is not in a file: it goes to
// stdout, or it is off.
var ErrNotKept = errors.New("the audit log is not kept in a file")

// ErrCursorExpired is a query from a cursor whose file rotation dropped.
var ErrCursorExpired = errors.New("the audit log file the cursor is in was rotated away")

// Reader answers queries of the log Options name, when it is a file
// (File): the file and its backups, newest line first, read from the end
// while they are written and rotated. A query reads at most MaxScanBytes
// through one buffer of MaxLineBytes, whatever the log holds.
type Reader struct {
	path    string
	backups int
	kept    bool
	budget  int64
	maxLine int
	slots   chan struct{}
}

// NewReader reads the log o names (Path filled in as for Open); its
// queries answer ErrNotKept when o writes to stdout or not at all.
func NewReader(o Options) *Reader {
	return &Reader{path: o.Path, backups: o.Backups, kept: o.Level != LevelNone && o.Path != "-" && o.Path != "",
		budget: MaxScanBytes, maxLine: MaxLineBytes, slots: make(chan struct{}, MaxQueries)}
}

// Query says which entries a page holds. Every filter set must hold.
type Query struct {
	User       string // the authenticated username, exactly
	UserPrefix string // the authenticated username's start
	Cluster    string // the cluster's id
	Verb       string
	Status     int // the status code; 0: any
	// StatusClass is the status code's first digit (4 for 4xx); 0: any.
	StatusClass int
	// Before keeps the entries of requests that arrived before it; zero:
	// any.
	Before time.Time
	// From continues where an earlier page stopped, with that query's
	// Before (this one's is ignored); zero: from the newest line.
	From Cursor
	// Limit is how many entries a page holds at most (positive).
	Limit int
}

// Page is a query's answer.
type Page struct {
	// Items are newest first: in the order the log has them, last written
	// first (an entry is written when its response is done, so a long
	// watch comes after requests that arrived later).
	Items []Entry
	// Next continues the query; zero when no older line is left.
	Next Cursor
	// Truncated says the scan stopped at MaxScanBytes, before Limit
	// entries were found; Next goes on from there.
	Truncated bool
	// Skipped counts the lines scanned that were not read: longer than
	// MaxLineBytes, or not an entry. With a filter of user, cluster or
	// verb, only lines that hold its value as a JSON string count.
	Skipped int
}

// Query reads one page.
func (r *Reader) Query(ctx context.Context, q Query) (Page, error) {
	if !r.kept {
		return Page{}, ErrNotKept
	}
	if q.Limit <= 0 {
		return Page{}, errors.New("audit query: limit must be positive")
	}
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		return Page{}, ctx.Err()
	}
	if !q.From.IsZero() {
		q.Before = q.From.before
	}
	m := newMatcher(q)
	var page Page
	budget := r.budget
	sc := backScanner{buf: make([]byte, r.maxLine+2), budget: &budget, skipped: &page.Skipped}
	files := logFiles{r: r}
	defer files.close()
	resume := q.From
	for {
		f, err := files.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Page{}, err
		}
		end := f.size
		if !resume.IsZero() {
			if ok, err := f.holds(resume); err != nil || !ok {
				if err != nil {
					return Page{}, err
				}
				continue
			}
			end, resume = resume.offset, Cursor{}
		}
		sc.reset(f.f, end)
		for n := 0; ; n++ {
			if n%256 == 0 && ctx.Err() != nil {
				return Page{}, ctx.Err()
			}
			line, start, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, errBudget) {
				page.Truncated = true
				page.Next, err = f.cursor(sc.pos(), q.Before)
				return page, err
			}
			if err != nil {
				return Page{}, err
			}
			if !m.mayMatch(line) {
				continue
			}
			e, err := ParseLine(line)
			if err != nil {
				page.Skipped++
				continue
			}
			if !m.match(&e) {
				continue
			}
			page.Items = append(page.Items, e)
			if len(page.Items) == q.Limit {
				page.Next, err = f.cursor(start, q.Before)
				return page, err
			}
		}
	}
	if !resume.IsZero() {
		return Page{}, ErrCursorExpired
	}
	return page, nil
}

// matcher is a query's filters.
type matcher struct {
	q Query
	// needles are the filters' values as JSON strings (a prefix without
	// its closing quote): a line that lacks one cannot match, and is not
	// decoded. The log's lines are written by encoding/json, as these.
	needles [][]byte
}

func newMatcher(q Query) matcher {
	m := matcher{q: q}
	for i, s := range []string{q.UserPrefix, q.User, q.Cluster, q.Verb} {
		if s == "" {
			continue
		}
		b, err := json.Marshal(s)
		if err != nil {
			continue // cannot happen for a string
		}
		if i == 0 {
			b = b[:len(b)-1] // a prefix: no closing quote
		}
		m.needles = append(m.needles, b)
	}
	return m
}

func (m *matcher) mayMatch(line []byte) bool {
	for _, n := range m.needles {
		if !bytes.Contains(line, n) {
			return false
		}
	}
	return true
}

func (m *matcher) match(e *Entry) bool {
	q := &m.q
	switch {
	case q.User != "" && e.User != q.User,
		q.UserPrefix != "" && !strings.HasPrefix(e.User, q.UserPrefix),
		q.Cluster != "" && e.Cluster != q.Cluster,
		q.Verb != "" && e.Verb != q.Verb,
		q.Status != 0 && e.Status != q.Status,
		q.StatusClass != 0 && e.Status/100 != q.StatusClass,
		!q.Before.IsZero() && !e.Time.Before(q.Before):
		return false
	}
	return true
}

// logFiles opens the log's files newest first: path, path.1, ... It opens
// each when the one before is done, by name, so rotation may rename them
// meanwhile: a rename moves a file to a higher number, so a file seen
// again under its new name is passed over, and none is missed but the one
// rotation drops. (A query would have to outlast more rotations than it
// has read files to meet a file newer than its first.)
type logFiles struct {
	r    *Reader
	i    int
	seen []os.FileInfo
	cur  *os.File
}

type logFile struct {
	f    *os.File
	size int64
}

func (l *logFiles) next() (logFile, error) {
	l.close()
	for ; l.i <= l.r.backups; l.i++ {
		name := l.r.path
		if l.i > 0 {
			name = fmt.Sprintf("%s.%d", l.r.path, l.i)
		}
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // dropped, or between two renames
		}
		if err != nil {
			return logFile{}, fmt.Errorf("open audit log: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return logFile{}, fmt.Errorf("open audit log: %w", err)
		}
		if l.saw(st) {
			f.Close()
			continue
		}
		l.seen = append(l.seen, st)
		l.cur = f
		l.i++
		return logFile{f: f, size: st.Size()}, nil
	}
	return logFile{}, io.EOF
}

func (l *logFiles) saw(st os.FileInfo) bool {
	for _, s := range l.seen {
		if os.SameFile(s, st) {
			return true
		}
	}
	return false
}

func (l *logFiles) close() {
	if l.cur != nil {
		l.cur.Close()
		l.cur = nil
	}
}

// holds says c is in f: f starts with c's head and reaches its offset.
func (f logFile) holds(c Cursor) (bool, error) {
	if f.size < int64(c.n) || f.size < c.offset {
		return false, nil
	}
	head, _, err := fileHead(f.f, int64(c.n))
	return head == c.head, err
}

// cursor is offset in f.
func (f logFile) cursor(offset int64, before time.Time) (Cursor, error) {
	head, n, err := fileHead(f.f, f.size)
	if err != nil {
		return Cursor{}, err
	}
	return Cursor{head: head, n: n, offset: offset, before: before}, nil
}
