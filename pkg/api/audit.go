package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/audit"
)

// AuditReader answers queries of this server's audit log (*audit.Reader).
type AuditReader interface {
	Query(ctx context.Context, q audit.Query) (audit.Page, error)
}

// Pages of GET /v3/audit.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
	// maxAuditValue bounds a filter's value.
	maxAuditValue = 512
)

// auditRoutes registers the audit log's query.
func (a *API) auditRoutes(r *access.Routes) {
	r.Handle(http.MethodGet, "/v3/audit", access.Unscoped, a.admin(a.queryAudit))
}

// auditPage is GET /v3/audit's answer.
type auditPage struct {
	Items []audit.Entry `json:"items"`
	// Next, passed as before, is the next page; absent when no older
	// line is left.
	Next string `json:"next,omitempty"`
	// Truncated: the scan stopped at its byte budget (audit.MaxScanBytes)
	// before the page was full; Next goes on from there.
	Truncated bool `json:"truncated"`
	// Skipped counts lines passed over that are not entries.
	Skipped int `json:"skipped"`
}

// queryAudit answers a query of the audit log, newest entry first.
func (a *API) queryAudit(w http.ResponseWriter, r *http.Request) {
	q, bad, err := auditQuery(r.URL.RawQuery)
	if err != nil {
		if bad {
			apierr.BadRequest(w, "%s", err)
		} else {
			apierr.Invalid(w, "%s", err)
		}
		return
	}
	if a.opts.Audit == nil {
		auditNotKept(w)
		return
	}
	page, err := a.opts.Audit.Query(r.Context(), q)
	switch {
	case errors.Is(err, audit.ErrNotKept):
		auditNotKept(w)
		return
	case errors.Is(err, audit.ErrCursorExpired):
		apierr.Write(w, http.StatusGone, metav1.StatusReasonExpired,
			"the audit log file this page was in has been rotated away; start again without before (or with a time)")
		return
	case err != nil && r.Context().Err() != nil:
		return // the client left
	case err != nil:
		a.opts.Logger.Error("query the audit log", "err", err)
		apierr.Internal(w)
		return
	}
	out := auditPage{Items: page.Items, Truncated: page.Truncated, Skipped: page.Skipped}
	if out.Items == nil {
		out.Items = []audit.Entry{}
	}
	if !page.Next.IsZero() {
		out.Next = page.Next.String()
	}
	writeJSON(w, http.StatusOK, out)
}

func auditNotKept(w http.ResponseWriter) {
	apierr.NotFound(w, "this server does not keep its audit log in a file (it goes to stdout, or --audit-level is none): "+
		"start drover-server with --audit-log set to a file (the default is audit.log in the data directory) to query it here")
}

// auditQuery reads GET /v3/audit's parameters. An error is for the
// client: bad says the query string itself is wrong (400), else a value
// (422).
func auditQuery(raw string) (q audit.Query, bad bool, err error) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, true, errors.New("the query string is not valid URL encoding")
	}
	known := []string{"user", "userPrefix", "cluster", "verb", "status", "limit", "before"}
	for k, v := range vals {
		if !slices.Contains(known, k) {
			return q, true, fmt.Errorf("unknown query parameter %q; known: %s", k, strings.Join(known, ", "))
		}
		if len(v) > 1 {
			return q, true, fmt.Errorf("query parameter %q given %d times", k, len(v))
		}
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{"user", &q.User}, {"userPrefix", &q.UserPrefix}, {"cluster", &q.Cluster}} {
		v := vals.Get(f.name)
		if len(v) > maxAuditValue || !utf8.ValidString(v) {
			return q, false, fmt.Errorf("%s must be UTF-8 of at most %d bytes", f.name, maxAuditValue)
		}
		*f.to = v
	}
	if q.User != "" && q.UserPrefix != "" {
		return q, false, errors.New("set user or userPrefix, not both")
	}
	if q.Verb = vals.Get("verb"); q.Verb != "" && !isVerb(q.Verb) {
		return q, false, fmt.Errorf("verb %.40q must be a lower-case verb such as get, list, create or delete", q.Verb)
	}
	if q.Status, q.StatusClass, err = auditStatus(vals.Get("status")); err != nil {
		return q, false, err
	}
	q.Limit = defaultAuditLimit
	if s := vals.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditLimit {
			return q, false, fmt.Errorf("limit must be a number from 1 to %d", maxAuditLimit)
		}
		q.Limit = n
	}
	if s := vals.Get("before"); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			q.Before = t
		} else if q.From, err = audit.ParseCursor(s); err != nil {
			return q, false, errors.New(`before must be an RFC3339 time (such as 2026-12-01T10:00:00Z) or the "next" of an earlier page`)
		}
	}
	return q, false, nil
}

// isVerb says s could be a request's verb: 1 to 32 lower-case letters.
func isVerb(s string) bool {
	if len(s) > 32 {
		return false
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

// auditStatus reads a status filter: a code (403) or a class (4xx).
func auditStatus(s string) (code, class int, err error) {
	if s == "" {
		return 0, 0, nil
	}
	bad := fmt.Errorf("status %.40q must be a code from 100 to 599 (such as 403) or a class from 1xx to 5xx", s)
	if len(s) == 3 && strings.EqualFold(s[1:], "xx") {
		if s[0] < '1' || s[0] > '5' {
			return 0, 0, bad
		}
		return 0, int(s[0] - '0'), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 || len(s) != 3 {
		return 0, 0, bad
	}
	return n, 0, nil
}
