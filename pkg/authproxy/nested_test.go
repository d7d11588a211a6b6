package authproxy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/test/fake"
)

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
	_, saBeta := s.connectCluster("c-bravo")
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-alpha")
	s.bind(bob.ID, "c-bravo")
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
		// The controller's own credential, impersonating nobody.
		return map[string][]string{"authorization": {"Bearer " + sa}}
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
			// Approved and cached for c-alpha a moment ago; c-bravo is asked
			// afresh, with its own credential, and says no.
			name: "the same request in c-bravo, where bob has no right", cluster: "c-bravo", groups: []string{"devs"}, code: 403,
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

// TestNestedCache: answers are reused per exact question (cluster, token,
// caller, requested identity): approvals for the TTL, refusals for
// RefusalTTL, so that repeating a refused request does not make the cluster
// answer again each time, and a grant takes effect within RefusalTTL. A
// negative TTL turns reuse off.
func TestNestedCache(t *testing.T) {
	clock := fake.NewClock(time.Now())
	s := newSandwich(t, func(o *authproxy.Options) { o.Now = clock.Now })
	_, sa := s.connectCluster("c-alpha")
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-alpha")
	tok, _ := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))
	tok2, _ := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))
	const path = "/k8s/clusters/c-alpha/api/v1/pods"

	steps := []struct {
		name    string
		do      func()
		tok     string // "": tok
		user    string
		groups  []string
		code    int
		reviews int // how many reviews the step must cause
	}{
		{name: "refused", user: "jane", code: 403, reviews: 1},
		{name: "refusal reused: the cluster is not asked again", user: "jane", code: 403, reviews: 0},
		{name: "granted in the cluster: still refused within RefusalTTL", do: func() { s.backend.allow(sa, "bob", "users", "jane") },
			user: "jane", code: 403, reviews: 0},
		{name: "granted in the cluster: allowed once RefusalTTL has passed", do: func() { clock.Add(authproxy.RefusalTTL) },
			user: "jane", code: 200, reviews: 1},
		{name: "approval reused", user: "jane", code: 200, reviews: 0},
		{name: "another question is asked", user: "jane", groups: []string{"devs"}, code: 403, reviews: 2},
		{name: "that refusal is reused", user: "jane", groups: []string{"devs"}, code: 403, reviews: 0},
		{name: "the same question with another token is asked", tok: tok2, user: "jane", code: 200, reviews: 1},
		{name: "revoked in the cluster: still reused within the TTL", do: s.backend.revokeAll, user: "jane", code: 200, reviews: 0},
		{name: "revoked in the cluster: refused after the TTL", do: func() { clock.Add(5*time.Second + time.Millisecond) },
			user: "jane", code: 403, reviews: 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.do != nil {
				st.do()
			}
			bearer := tok
			if st.tok != "" {
				bearer = st.tok
			}
			before, forwarded := len(s.backend.reviews()), s.backend.count()
			if code, msg := s.getAs(path, bearer, st.user, st.groups...); code != st.code {
				t.Fatalf("status %d (%s), want %d", code, msg, st.code)
			}
			if got := len(s.backend.reviews()) - before; got != st.reviews {
				t.Errorf("%d reviews, want %d", got, st.reviews)
			}
			if st.code != 200 && s.backend.count() != forwarded {
				t.Error("a refused request was forwarded")
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

// TestNestedDeadline: one deadline bounds all the reviews of a request
// together. A cluster that answers each review within the deadline but all
// of them only after it costs the client the deadline once, and the request
// is refused (503), not forwarded.
func TestNestedDeadline(t *testing.T) {
	s := newSandwich(t)
	s.connectCluster("c-alpha")
	ada := s.addUser("ada", true) // drover:admins may impersonate anyone
	tok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	const perReview, deadline = 300 * time.Millisecond, time.Second
	groups := []string{"g1", "g2", "g3", "g4", "g5"} // 6 reviews: 1.8 s in all
	s.handler.SetNestedTimeout(deadline)
	s.backend.delayReviews(perReview)

	before, forwarded := len(s.backend.reviews()), s.backend.count()
	start := time.Now()
	code, msg := s.getAs("/k8s/clusters/c-alpha/api/v1/pods", tok, "jane", groups...)
	took := time.Since(start)
	t.Logf("%d reviews of %v each, deadline %v: status %d after %v, %d reviews sent",
		len(groups)+1, perReview, deadline, code, took.Round(time.Millisecond), len(s.backend.reviews())-before)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("status %d (%s), want 503", code, msg)
	}
	if all := time.Duration(len(groups)+1) * perReview; took >= all {
		t.Errorf("answered after %v: every review was waited for (%v), not one deadline (%v)", took, all, deadline)
	}
	if s.backend.count() != forwarded {
		t.Error("a request the cluster did not approve was forwarded")
	}
	if !strings.Contains(s.logs.String(), "nested impersonation could not be checked") {
		t.Error("the cause was not logged")
	}

	// The timeout is not cached: once the cluster is quick again, the same
	// request is approved.
	s.backend.delayReviews(0)
	if code, msg := s.getAs("/k8s/clusters/c-alpha/api/v1/pods", tok, "jane", groups...); code != 200 {
		t.Errorf("after the cluster recovered: status %d (%s)", code, msg)
	}
}

// TestNestedInFlightPerUser: one user's concurrent nested checks that miss
// the cache are capped; the rest get 429 at once and ask the cluster
// nothing. Another user is not affected.
func TestNestedInFlightPerUser(t *testing.T) {
	s := newSandwich(t)
	s.connectCluster("c-alpha")
	ada := s.addUser("ada", true)
	bea := s.addUser("bea", true)
	adaTok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	beaTok, _ := s.mintToken(bea.ID, "", time.Now().Add(time.Hour))
	s.backend.delayReviews(500 * time.Millisecond)

	const n = authproxy.MaxInFlightPerUser + 3
	codes := make(chan int, n)
	before := len(s.backend.reviews())
	for i := range n {
		go func() {
			code, _ := s.getAs("/k8s/clusters/c-alpha/api/v1/pods", adaTok, fmt.Sprintf("target-%d", i))
			codes <- code
		}()
	}
	time.Sleep(100 * time.Millisecond) // ada's checks are in flight
	if code, msg := s.getAs("/k8s/clusters/c-alpha/api/v1/pods", beaTok, "jane"); code != 200 {
		t.Errorf("another user while ada is at the cap: %d (%s)", code, msg)
	}
	got := map[int]int{}
	for range n {
		got[<-codes]++
	}
	want := map[int]int{200: authproxy.MaxInFlightPerUser, 429: n - authproxy.MaxInFlightPerUser}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status counts (-want +got):\n%s", diff)
	}
	if reviews := len(s.backend.reviews()) - before; reviews != authproxy.MaxInFlightPerUser+1 {
		t.Errorf("%d reviews reached the cluster, want %d (ada's cap + bea's one)", reviews, authproxy.MaxInFlightPerUser+1)
	}
	// The slots come back: ada's next check goes through.
	s.backend.delayReviews(0)
	if code, msg := s.getAs("/k8s/clusters/c-alpha/api/v1/pods", adaTok, "target-next"); code != 200 {
		t.Errorf("after the checks ended: %d (%s)", code, msg)
	}
}

// TestNestedRefusedNames: names Drover will not ask about, whatever the
// cluster would say (ada may impersonate anyone there): system:anonymous
// and system:unauthenticated would gain system:authenticated, which every
// forwarded identity carries (403); names longer than 512 bytes are
// refused (400). Nothing is reviewed or forwarded.
func TestNestedRefusedNames(t *testing.T) {
	s := newSandwich(t)
	s.connectCluster("c-alpha")
	ada := s.addUser("ada", true)
	tok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	long := strings.Repeat("x", impersonation.MaxNameLen+1)

	tests := []struct {
		name   string
		user   string
		groups []string
		code   int
		msg    string
	}{
		{name: "--as system:anonymous", user: "system:anonymous", code: 403,
			msg: "impersonating user system:anonymous is not supported through Drover: an impersonated user always carries group system:authenticated"},
		{name: "--as-group system:unauthenticated", user: "jane", groups: []string{"system:unauthenticated"}, code: 403,
			msg: "impersonating group system:unauthenticated is not supported through Drover: an impersonated user always carries group system:authenticated"},
		{name: "--as of 513 bytes", user: long, code: 400, msg: "Impersonate-User is 513 bytes long; at most 512 are accepted"},
		{name: "--as-group of 513 bytes", user: "jane", groups: []string{"devs", long}, code: 400,
			msg: "Impersonate-Group value 2 is 513 bytes long; at most 512 are accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, forwarded := len(s.backend.reviews()), s.backend.count()
			code, msg := s.getAs("/k8s/clusters/c-alpha/api/v1/pods", tok, tc.user, tc.groups...)
			if code != tc.code || msg != tc.msg {
				t.Errorf("got %d %q, want %d %q", code, msg, tc.code, tc.msg)
			}
			if got := len(s.backend.reviews()) - before; got != 0 {
				t.Errorf("%d reviews sent", got)
			}
			if s.backend.count() != forwarded {
				t.Error("the request was forwarded")
			}
		})
	}
	// 512 bytes are accepted.
	if code, msg := s.getAs("/k8s/clusters/c-alpha/api/v1/pods", tok, long[1:]); code != 200 {
		t.Errorf("--as of 512 bytes: status %d (%s)", code, msg)
	}
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
	s.connectCluster("c-alpha")
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
			code: http.StatusSwitchingProtocols, want: nestedIdentity("jane", []string{"devs"}, "ada", tokID, ada.ID),
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
