package api

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/audit"
)

// fakeAudit records the queries it is asked and answers page or err.
type fakeAudit struct {
	mu      sync.Mutex
	queries []audit.Query
	page    audit.Page
	err     error
}

func (f *fakeAudit) Query(_ context.Context, q audit.Query) (audit.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	return f.page, f.err
}

func (f *fakeAudit) asked() []audit.Query {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]audit.Query(nil), f.queries...)
}

// TestAuditAdminOnly: only an admin's unscoped credential may query the
// audit log; the others are refused before it is read.
func TestAuditAdminOnly(t *testing.T) {
	fa := &fakeAudit{}
	f := newFixture(t, func(o *Options) { o.Audit = fa })
	code, body := f.do(t, "POST", "/v3/clusters", f.admin, `{"name":"prod"}`)
	if code != 201 {
		t.Fatalf("create cluster: %d %s", code, body)
	}
	var created struct{ Cluster struct{ ID string } }
	json.Unmarshal([]byte(body), &created)
	_, body = f.do(t, "POST", "/v3/tokens", f.admin, `{"clusterId":"`+created.Cluster.ID+`"}`)
	scoped := jsonBody(t, body)["token"].(string)
	_, body = f.do(t, "POST", "/v3/tokens", f.user, `{}`)
	userToken := jsonBody(t, body)["token"].(string)
	for _, c := range []struct {
		name, bearer string
		code         int
		want         map[string]any
	}{
		{"no credential", "", 401, status(401, "Unauthorized", "Unauthorized")},
		{"a user", f.user, 403, status(403, "Forbidden", "only Drover admins may GET /v3/audit")},
		{"a user's API token", userToken, 403, status(403, "Forbidden", "only Drover admins may GET /v3/audit")},
		{"an admin's token scoped to a cluster", scoped, 403, nil}, // the scope filter's answer
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.do(t, "GET", "/v3/audit?user=root", c.bearer, "")
			if code != c.code {
				t.Fatalf("= %d %s, want %d", code, body, c.code)
			}
			if c.want != nil {
				if diff := cmp.Diff(c.want, jsonBody(t, body)); diff != "" {
					t.Errorf("answer (-want +got):\n%s", diff)
				}
			}
		})
	}
	if q := fa.asked(); len(q) != 0 {
		t.Errorf("the audit log was read for a refused caller: %+v", q)
	}
	if code, body := f.do(t, "GET", "/v3/audit", f.admin, ""); code != 200 || jsonBody(t, body)["items"] == nil {
		t.Errorf("admin = %d %s", code, body)
	}
}

// TestAuditParameters: the query string becomes the query; a wrong one is
// refused, naming the parameter, and nothing is read.
func TestAuditParameters(t *testing.T) {
	fa := &fakeAudit{}
	f := newFixture(t, func(o *Options) { o.Audit = fa })
	cursor := func() (audit.Cursor, string) {
		t.Helper()
		// A cursor as the reader of a real log hands it out.
		path := filepath.Join(t.TempDir(), "audit.log")
		writeAuditLines(t, path, 2)
		p, err := audit.NewReader(audit.Options{Path: path, Level: audit.LevelAll}).Query(context.Background(),
			audit.Query{Limit: 1, Before: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil || p.Next.IsZero() {
			t.Fatalf("cursor: %v %+v", err, p)
		}
		return p.Next, p.Next.String()
	}
	cur, curText := cursor()
	for _, c := range []struct {
		name, query string
		want        audit.Query // Limit 100 unless set
		code        int
		message     string
	}{
		{name: "none", query: ""},
		{name: "empty values are no filter", query: "user=&cluster=&verb=&status=&limit=&before="},
		{name: "all", query: "user=ldap%3Aalice&cluster=c-1&verb=get&status=403&limit=1000&before=2026-12-01T10%3A00%3A00.5%2B01%3A00",
			want: audit.Query{User: "ldap:alice", Cluster: "c-1", Verb: "get", Status: 403, Limit: 1000,
				Before: time.Date(2026, 12, 1, 9, 0, 0, 5e8, time.UTC)}},
		{name: "prefix and class", query: "userPrefix=ldap:&status=5xx&limit=1", want: audit.Query{UserPrefix: "ldap:", StatusClass: 5, Limit: 1}},
		{name: "class in capitals", query: "status=4XX", want: audit.Query{StatusClass: 4}},
		{name: "cursor", query: "before=" + curText, want: audit.Query{From: cur}},
		{name: "unknown", query: "users=ada", code: 400,
			message: `unknown query parameter "users"; known: user, userPrefix, cluster, verb, status, limit, before`},
		{name: "twice", query: "user=ada&user=bob", code: 400, message: `query parameter "user" given 2 times`},
		{name: "bad escape", query: "user=%zz", code: 400, message: "the query string is not valid URL encoding"},
		{name: "user and prefix", query: "user=ada&userPrefix=a", code: 422, message: "set user or userPrefix, not both"},
		{name: "long user", query: "user=" + strings.Repeat("a", 513), code: 422, message: "user must be UTF-8 of at most 512 bytes"},
		{name: "not UTF-8", query: "cluster=%ff", code: 422, message: "cluster must be UTF-8 of at most 512 bytes"},
		{name: "verb in capitals", query: "verb=GET", code: 422, message: `verb "GET" must be a lower-case verb such as get, list, create or delete`},
		{name: "status 6xx", query: "status=6xx", code: 422, message: `status "6xx" must be a code from 100 to 599 (such as 403) or a class from 1xx to 5xx`},
		{name: "status 99", query: "status=099", code: 422, message: `status "099" must be a code from 100 to 599 (such as 403) or a class from 1xx to 5xx`},
		{name: "status word", query: "status=ok", code: 422, message: `status "ok" must be a code from 100 to 599 (such as 403) or a class from 1xx to 5xx`},
		{name: "limit 0", query: "limit=0", code: 422, message: "limit must be a number from 1 to 1000"},
		{name: "limit 1001", query: "limit=1001", code: 422, message: "limit must be a number from 1 to 1000"},
		{name: "limit word", query: "limit=all", code: 422, message: "limit must be a number from 1 to 1000"},
		{name: "before a date", query: "before=2026-12-01", code: 422,
			message: `before must be an RFC3339 time (such as 2026-12-01T10:00:00Z) or the "next" of an earlier page`},
		{name: "before an unescaped offset", query: "before=2026-12-01T10:00:00+01:00", code: 422,
			message: `before must be an RFC3339 time (such as 2026-12-01T10:00:00Z) or the "next" of an earlier page`},
		{name: "forged cursor", query: "before=zz" + curText[2:], code: 422,
			message: `before must be an RFC3339 time (such as 2026-12-01T10:00:00Z) or the "next" of an earlier page`},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(fa.asked())
			code, body := f.do(t, "GET", "/v3/audit?"+c.query, f.admin, "")
			asked := fa.asked()[before:]
			if c.code != 0 {
				want := status(c.code, map[int]string{400: "BadRequest", 422: "Invalid"}[c.code], c.message)
				if diff := cmp.Diff(want, jsonBody(t, body)); code != c.code || diff != "" {
					t.Errorf("= %d, want %d; answer (-want +got):\n%s", code, c.code, diff)
				}
				if len(asked) != 0 {
					t.Errorf("the log was read: %+v", asked)
				}
				return
			}
			if code != 200 || len(asked) != 1 {
				t.Fatalf("= %d %s, %d queries", code, body, len(asked))
			}
			want := c.want
			if want.Limit == 0 {
				want.Limit = 100
			}
			if diff := cmp.Diff(want, asked[0], cmp.AllowUnexported(audit.Cursor{})); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
		})
	}
}

// writeAuditLines writes n entries of Drover's format to path, one a
// second from 2026-12-01T10:00:01Z, users ada and bob in turn; entry i's
// user id is u-<i>.
func writeAuditLines(t *testing.T, path string, n int) {
	t.Helper()
	var b []byte
	for i := 1; i <= n; i++ {
		e := audit.Entry{Time: time.Date(2026, 12, 1, 10, 0, i, 0, time.UTC), Kind: "proxy", User: []string{"bob", "ada"}[i%2],
			UserID: "u-" + strconv.Itoa(i), Cluster: "c-1", Verb: "get", Resource: "pods", Status: 200, Client: "192.0.2.1"}
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, line...), '\n')
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuditLog: over a real log, the answer is Drover's entries newest
// first, and its next pages through the rest.
func TestAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeAuditLines(t, path, 5)
	f := newFixture(t, func(o *Options) {
		o.Audit = audit.NewReader(audit.Options{Path: path, Level: audit.LevelAll, Backups: 2})
	})
	code, body := f.do(t, "GET", "/v3/audit?user=ada&limit=2", f.admin, "")
	if code != 200 {
		t.Fatalf("= %d %s", code, body)
	}
	var page struct {
		Items     []map[string]any
		Next      string
		Truncated bool
		Skipped   int
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"time": "2026-12-01T10:00:05Z", "kind": "proxy", "user": "ada", "userId": "u-5", "cluster": "c-1", "verb": "get",
			"resource": "pods", "status": 200.0, "latencyMs": 0.0, "client": "192.0.2.1"},
		{"time": "2026-12-01T10:00:03Z", "kind": "proxy", "user": "ada", "userId": "u-3", "cluster": "c-1", "verb": "get",
			"resource": "pods", "status": 200.0, "latencyMs": 0.0, "client": "192.0.2.1"},
	}
	if diff := cmp.Diff(want, page.Items); diff != "" || page.Next == "" || page.Truncated || page.Skipped != 0 {
		t.Fatalf("first page (-want +got):\n%s\n%s", diff, body)
	}
	code, body = f.do(t, "GET", "/v3/audit?user=ada&limit=2&before="+url.QueryEscape(page.Next), f.admin, "")
	if code != 200 {
		t.Fatalf("next page = %d %s", code, body)
	}
	got := jsonBody(t, body)
	if diff := cmp.Diff(map[string]any{"items": []any{map[string]any{"time": "2026-12-01T10:00:01Z", "kind": "proxy", "user": "ada",
		"userId": "u-1", "cluster": "c-1", "verb": "get", "resource": "pods", "status": 200.0, "latencyMs": 0.0,
		"client": "192.0.2.1"}}, "truncated": false, "skipped": 0.0}, got); diff != "" {
		t.Errorf("last page (-want +got):\n%s", diff)
	}
}

// TestAuditUnavailable: a log on stdout or off answers 404 naming the flag
// that keeps it in a file; a page of a file rotated away answers 410.
func TestAuditUnavailable(t *testing.T) {
	for _, c := range []struct {
		name   string
		reader AuditReader
	}{
		{"no reader", nil},
		{"stdout", audit.NewReader(audit.Options{Path: "-", Level: audit.LevelAll})},
		{"off", audit.NewReader(audit.Options{Path: "/var/lib/drover/audit.log", Level: audit.LevelNone})},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.Audit = c.reader })
			code, body := f.do(t, "GET", "/v3/audit", f.admin, "")
			if code != 404 || !strings.Contains(body, "start drover-server with --audit-log set to a file") {
				t.Errorf("= %d %s", code, body)
			}
		})
	}
	f := newFixture(t, func(o *Options) { o.Audit = &fakeAudit{err: audit.ErrCursorExpired} })
	code, body := f.do(t, "GET", "/v3/audit", f.admin, "")
	want := status(410, "Expired", "the audit log file this page was in has been rotated away; start again without before (or with a time)")
	if diff := cmp.Diff(want, jsonBody(t, body)); code != 410 || diff != "" {
		t.Errorf("= %d; answer (-want +got):\n%s", code, diff)
	}
}
