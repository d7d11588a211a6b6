package authproxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/downstream"
)

// fakeClock is a settable clock for the approval cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// getAs sends GET path with a bearer token and impersonation headers
// (user empty: none) and returns the code and the Status message, if any.
func (s *sandwich) getAs(path, bearer, user string, groups ...string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest("GET", s.proxy.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	if user != "" {
		req.Header.Set("Impersonate-User", user)
	}
	for _, g := range groups {
		req.Header.Add("Impersonate-Group", g)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	var st metav1.Status
	if resp.StatusCode != 200 {
		if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" {
			s.t.Fatalf("status %d with a body that is not a Status: %s", resp.StatusCode, body)
		}
	}
	return resp.StatusCode, st.Message
}

// TestNestedReviews checks what the cluster is asked, by whom, and that
// each cluster is asked about itself only (the CVE-2026-44945 class: a right
// in one cluster must not open another).
func TestNestedReviews(t *testing.T) {
	s := newSandwich(t)
	_, saAlpha := s.connectCluster("c-alpha")
	_, saBeta := s.connectCluster("c-beta")
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-alpha")
	s.bind(bob.ID, "c-beta")
	tok, tokID := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))
	s.backend.allow(saAlpha, "bob", "users", "jane")
	s.backend.allow(saAlpha, "bob", "groups", "devs")

	askAbout := func(resource, name string) authorizationv1.SubjectAccessReviewSpec {
		return authorizationv1.SubjectAccessReviewSpec{
			User:   "bob",
			Groups: []string{"system:authenticated"},
			Extra: map[string]authorizationv1.ExtraValue{
				downstream.ExtraTokenID: {tokID},
				downstream.ExtraUserID:  {bob.ID},
			},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: resource, Name: name},
		}
	}
	controllerHeaders := func(sa string) map[string][]string {
		return map[string][]string{"authorization": {"Bearer " + sa}, "impersonate-user": {downstream.ControllerUser}}
	}

	tests := []struct {
		name      string
		cluster   string
		groups    []string
		code      int
		sa        string // the cluster the reviews must go to
		wantSpecs []authorizationv1.SubjectAccessReviewSpec
	}{
		{
			name: "user and group, approved in c-alpha", cluster: "c-alpha", groups: []string{"devs"}, code: 200,
			sa: saAlpha, wantSpecs: []authorizationv1.SubjectAccessReviewSpec{askAbout("users", "jane"), askAbout("groups", "devs")},
		},
		{
			// Approved and cached for c-alpha a moment ago; c-beta is asked
			// afresh, with its own credential, and says no.
			name: "the same request in c-beta, where bob has no right", cluster: "c-beta", groups: []string{"devs"}, code: 403,
			sa: saBeta, wantSpecs: []authorizationv1.SubjectAccessReviewSpec{askAbout("users", "jane")},
		},
		{
			name: "a group not granted stops at that group", cluster: "c-alpha", groups: []string{"devs", "ops"}, code: 403,
			sa: saAlpha, wantSpecs: []authorizationv1.SubjectAccessReviewSpec{askAbout("users", "jane"), askAbout("groups", "devs"), askAbout("groups", "ops")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, forwarded := len(s.backend.reviews()), s.backend.count()
			code, msg := s.getAs("/k8s/clusters/"+tc.cluster+"/api/v1/pods", tok, "jane", tc.groups...)
			if code != tc.code {
				t.Fatalf("status %d (%s), want %d", code, msg, tc.code)
			}
			if want := map[bool]int{true: 1, false: 0}[code == 200]; s.backend.count()-forwarded != want {
				t.Errorf("backend got %d requests, want %d", s.backend.count()-forwarded, want)
			}
			var specs []authorizationv1.SubjectAccessReviewSpec
			for _, r := range s.backend.reviews()[before:] {
				specs = append(specs, r.Spec)
				if diff := cmp.Diff(controllerHeaders(tc.sa), identityHeaders(r.Header)); diff != "" {
					t.Errorf("review sent with (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tc.wantSpecs, specs); diff != "" {
				t.Errorf("reviews (-want +got):\n%s", diff)
			}
			if code == 403 && !strings.Contains(msg, `in cluster "`+tc.cluster+`" (SubjectAccessReview: sandwich: no grant)`) {
				t.Errorf("message %q does not name the cluster and the review's reason", msg)
			}
		})
	}
	s.checkNoSecretsLeaked()
}

// TestNestedCache: approvals are reused for the TTL per exact question,
// refusals never; a negative TTL turns reuse off.
func TestNestedCache(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	s := newSandwich(t, func(o *authproxy.Options) { o.Now = clock.now })
	_, sa := s.connectCluster("c-alpha")
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-alpha")
	tok, _ := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))
	const path = "/k8s/clusters/c-alpha/api/v1/pods"

	steps := []struct {
		name    string
		do      func()
		user    string
		groups  []string
		code    int
		reviews int // how many reviews the step must cause
	}{
		{name: "refused", user: "jane", code: 403, reviews: 1},
		{name: "refusal not reused: granted in the cluster, allowed at once", do: func() { s.backend.allow(sa, "bob", "users", "jane") },
			user: "jane", code: 200, reviews: 1},
		{name: "approval reused", user: "jane", code: 200, reviews: 0},
		{name: "another question is asked", user: "jane", groups: []string{"devs"}, code: 403, reviews: 2},
		{name: "revoked in the cluster: still reused within the TTL", do: s.backend.revokeAll, user: "jane", code: 200, reviews: 0},
		{name: "revoked in the cluster: refused after the TTL", do: func() { clock.advance(5*time.Second + time.Millisecond) },
			user: "jane", code: 403, reviews: 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.do != nil {
				st.do()
			}
			before := len(s.backend.reviews())
			if code, msg := s.getAs(path, tok, st.user, st.groups...); code != st.code {
				t.Fatalf("status %d (%s), want %d", code, msg, st.code)
			}
			if got := len(s.backend.reviews()) - before; got != st.reviews {
				t.Errorf("%d reviews, want %d", got, st.reviews)
			}
		})
	}

	t.Run("negative TTL: every request is reviewed", func(t *testing.T) {
		s := newSandwich(t, func(o *authproxy.Options) { o.NestedCacheTTL = -1 })
		_, sa := s.connectCluster("c-alpha")
		ada := s.addUser("ada", true)
		tok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
		s.backend.allow(sa, "ada", "users", "jane")
		for i := range 3 {
			before := len(s.backend.reviews())
			if code, msg := s.getAs(path, tok, "jane"); code != 200 {
				t.Fatalf("request %d: status %d (%s)", i, code, msg)
			}
			if got := len(s.backend.reviews()) - before; got != 1 {
				t.Errorf("request %d: %d reviews, want 1", i, got)
			}
		}
	})
}

// TestNestedFailClosed: when the cluster cannot answer, the request is
// refused with a safe message and the cause goes to the log.
func TestNestedFailClosed(t *testing.T) {
	s := newSandwich(t)
	s.connectCluster("c-alpha")
	ada := s.addUser("ada", true)
	tok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	for _, code := range []int{http.StatusInternalServerError, http.StatusForbidden, http.StatusOK, http.StatusCreated} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			s.backend.failReviews(code)
			defer s.backend.failReviews(0)
			before := s.backend.count()
			got, msg := s.getAs("/k8s/clusters/c-alpha/api/v1/pods", tok, "jane")
			if got != http.StatusServiceUnavailable {
				t.Fatalf("status %d (%s), want 503", got, msg)
			}
			if want := `could not ask cluster "c-alpha" whether user "ada" may impersonate "jane"; try again`; msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
			if strings.Contains(msg, "backend told to fail") {
				t.Error("the cluster's error text reached the client")
			}
			if s.backend.count() != before {
				t.Error("a request the cluster did not approve was forwarded")
			}
		})
	}
	if !strings.Contains(s.logs.String(), "nested impersonation could not be checked") {
		t.Error("the cause was not logged")
	}
	// And once it answers again, the request goes through.
	if code, msg := s.getAs("/k8s/clusters/c-alpha/api/v1/pods", tok, "jane"); code != 200 {
		t.Errorf("after recovery: status %d (%s)", code, msg)
	}
}

// TestNestedNoted: the audit hook hears whom each request asked to be,
// approved or not, and nothing for plain requests.
func TestNestedNoted(t *testing.T) {
	s := newSandwich(t)
	_, sa := s.connectCluster("c-alpha")
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-alpha")
	tok, _ := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))
	s.backend.allow(sa, "bob", "users", "jane")
	const path = "/k8s/clusters/c-alpha/api/v1/pods"
	s.getAs(path, tok, "")
	if code, _ := s.getAs(path, tok, "jane"); code != 200 {
		t.Fatalf("--as jane: status %d", code)
	}
	if code, _ := s.getAs(path, tok, "jane", "devs", "ops"); code != 403 {
		t.Fatalf("--as jane --as-group devs,ops: status %d", code)
	}
	if diff := cmp.Diff([]string{"jane ", "jane devs,ops"}, s.noted.all()); diff != "" {
		t.Errorf("noted (-want +got):\n%s", diff)
	}
}

// TestNestedUpgrade: exec/attach/port-forward with --as carry the approved
// identity; an upgrade with refused identity headers reaches nothing.
func TestNestedUpgrade(t *testing.T) {
	s := newSandwich(t)
	_, sa := s.connectCluster("c-alpha")
	ada := s.addUser("ada", true)
	tok, tokID := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))

	tests := []struct {
		name  string
		lines []string
		code  int
		want  map[string][]string // nil: nothing forwarded
	}{
		{
			name: "approved --as", lines: []string{"Impersonate-User: jane", "Impersonate-Group: devs"},
			code: http.StatusSwitchingProtocols, want: nestedIdentity("jane", []string{"devs"}, "ada", tokID, ada.ID, sa),
		},
		{name: "uid", lines: []string{"Impersonate-User: jane", "Impersonate-Uid: 0"}, code: 400},
		{name: "Impersonate-Group named in Connection", lines: []string{"Impersonate-User: jane", "Impersonate-Group: system:masters"}, code: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.backend.count()
			c, br := s.dial()
			defer c.Close()
			conn := "Connection: Upgrade"
			if strings.Contains(tc.name, "Connection") {
				conn += ", Impersonate-Group"
			}
			lines := append([]string{"Authorization: Bearer " + tok, conn, "Upgrade: SPDY/3.1"}, tc.lines...)
			if _, err := io.WriteString(c, rawRequest("GET", "/k8s/clusters/c-alpha/upgrade/echo", lines...)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			reqs := s.backend.requests()[before:]
			if tc.want == nil {
				if len(reqs) != 0 {
					t.Fatalf("a refused upgrade reached the backend %d times", len(reqs))
				}
				return
			}
			if _, err := io.WriteString(c, "ping\n"); err != nil {
				t.Fatal(err)
			}
			if got, err := br.ReadString('\n'); err != nil || got != "ping\n" {
				t.Fatalf("echo %q, %v", got, err)
			}
			if len(reqs) != 1 {
				t.Fatalf("backend got %d requests, want 1", len(reqs))
			}
			if diff := cmp.Diff(tc.want, identityHeaders(reqs[0].Header)); diff != "" {
				t.Errorf("identity headers on the upgrade (-want +got):\n%s", diff)
			}
		})
	}
	s.checkNoSecretsLeaked()
}
