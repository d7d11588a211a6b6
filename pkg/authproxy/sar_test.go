package authproxy_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/drover-dev/drover/pkg/downstream"
)

// sarPath is where the backend answers SubjectAccessReviews.
const sarPath = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

// grant is one impersonation right in one cluster, as a ClusterRole with
// verb impersonate on resource/name bound to user would give. Clusters are
// told apart by the ServiceAccount token their agent advertised: all share
// the one backend.
type grant struct{ saToken, user, resource, name string }

// seenSAR is a SubjectAccessReview the backend answered.
type seenSAR struct {
	Header http.Header
	Spec   authorizationv1.SubjectAccessReviewSpec
}

// sarPolicy is the backend's authorizer: members of drover:admins may
// impersonate anyone (the agent binds them to cluster-admin), others what
// they were granted.
type sarPolicy struct {
	mu     sync.Mutex
	grants map[grant]bool
	seen   []seenSAR
	fail   int           // non-zero: answer every review with this code
	delay  time.Duration // how long each review takes to answer
}

// allow grants user the right to impersonate resource/name in the cluster
// whose agent advertised saToken.
func (b *backend) allow(saToken, user, resource, name string) {
	b.sar.mu.Lock()
	defer b.sar.mu.Unlock()
	if b.sar.grants == nil {
		b.sar.grants = map[grant]bool{}
	}
	b.sar.grants[grant{saToken, user, resource, name}] = true
}

// revokeAll removes every grant.
func (b *backend) revokeAll() {
	b.sar.mu.Lock()
	defer b.sar.mu.Unlock()
	b.sar.grants = nil
}

// failReviews makes reviews fail with code (0: answer them again).
func (b *backend) failReviews(code int) {
	b.sar.mu.Lock()
	defer b.sar.mu.Unlock()
	b.sar.fail = code
}

// delayReviews makes each review take d to answer (0: at once).
func (b *backend) delayReviews(d time.Duration) {
	b.sar.mu.Lock()
	defer b.sar.mu.Unlock()
	b.sar.delay = d
}

// reviews returns the reviews answered so far.
func (b *backend) reviews() []seenSAR {
	b.sar.mu.Lock()
	defer b.sar.mu.Unlock()
	return slices.Clone(b.sar.seen)
}

func (b *backend) serveSAR(w http.ResponseWriter, r *http.Request) {
	var in authorizationv1.SubjectAccessReview
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	b.sar.mu.Lock()
	b.sar.seen = append(b.sar.seen, seenSAR{Header: r.Header.Clone(), Spec: in.Spec})
	fail, delay := b.sar.fail, b.sar.delay
	sa := ""
	if v, ok := cutBearer(r.Header.Get("Authorization")); ok {
		sa = v
	}
	allowed := false
	if a := in.Spec.ResourceAttributes; a != nil && a.Verb == "impersonate" && a.Group == "" {
		allowed = b.sar.grants[grant{sa, in.Spec.User, a.Resource, a.Name}]
	}
	b.sar.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","message":"backend told to fail"}` /* decodes as any kind */))
		return
	}
	// Only Drover's controller credential may create reviews, as in a real
	// cluster where the impersonation accounts cannot: no impersonation,
	// and the token the cluster agent handed over.
	if r.Header.Get("Impersonate-User") != "" || sa == "" || strings.HasPrefix(sa, "cred-") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"cannot create subjectaccessreviews"}`))
		return
	}
	if slices.Contains(in.Spec.Groups, downstream.AdminGroup) {
		allowed = true
	}
	out := in
	out.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: allowed}
	if allowed {
		out.Status.Reason = "sandwich: allowed"
	} else {
		out.Status.Reason = "sandwich: no grant"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(out)
}

func cutBearer(v string) (string, bool) {
	const p = "Bearer "
	if len(v) < len(p) || v[:len(p)] != p {
		return "", false
	}
	return v[len(p):], true
}

// lockedList collects strings written from many goroutines.
type lockedList struct {
	mu    sync.Mutex
	items []string
}

func (l *lockedList) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, s)
}

func (l *lockedList) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.items)
}
