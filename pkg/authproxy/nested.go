package authproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// sarPath is where a cluster answers SubjectAccessReviews.
const sarPath = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

// nestedTimeout bounds the whole check of one request, every review
// included (one for the user, one per group); the client waits for it.
const nestedTimeout = 10 * time.Second

// defaultNestedTTL is how long an approved nested impersonation is reused
// without asking the cluster again.
const defaultNestedTTL = 5 * time.Second

// refusalTTL is how long a refusal is reused, so that a client repeating a
// refused request cannot make Drover ask the cluster again and again. It is
// short: a grant made in the cluster works within it.
const refusalTTL = time.Second

// maxNestedCached bounds the cache; past it expired entries are dropped
// and, if that is not enough, the cache starts over.
const maxNestedCached = 10_000

// maxInFlightPerUser bounds the reviews one Drover user may have Drover
// ask at once (cache misses only): varying --as defeats the cache, and each
// miss costs the cluster one review per identity.
const maxInFlightPerUser = 4

// errBusy refuses a nested impersonation while the user already has
// maxInFlightPerUser checks running.
var errBusy = errors.New("too many nested impersonation checks in flight")

// denial is a refusal by the cluster: message is for the client, detail
// (the review's evaluation error, if any) for the log.
type denial struct{ message, detail string }

func (d *denial) Error() string { return d.message }

// nested approves nested impersonation (kubectl --as) by asking the target
// cluster, through its own tunnel session, whether the Drover user may
// impersonate the requested user and each requested group. Answers are
// cached keyed by cluster, token, caller and request: approvals for ttl (a
// revocation in the cluster takes effect within it), refusals for at most
// refusalTTL (a grant takes effect within it). Errors are never cached.
type nested struct {
	ttl     time.Duration // <= 0: no cache
	timeout time.Duration // bounds one authorize call
	now     func() time.Time

	mu       sync.Mutex
	answers  map[cacheKey]answer
	inFlight map[string]int // user id → checks running
}

// answer is a cached decision: approved if denied is nil.
type answer struct {
	expires time.Time
	denied  *denial
}

func newNested(ttl time.Duration, now func() time.Time) *nested {
	if now == nil {
		now = time.Now
	}
	return &nested{ttl: ttl, timeout: nestedTimeout, now: now, answers: map[cacheKey]answer{}, inFlight: map[string]int{}}
}

// acquire takes one of the user's check slots; release gives it back.
func (n *nested) acquire(userID string) (release func(), ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.inFlight[userID] >= maxInFlightPerUser {
		return nil, false
	}
	n.inFlight[userID]++
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.inFlight[userID]--; n.inFlight[userID] <= 0 {
			delete(n.inFlight, userID)
		}
	}, true
}

// callerAttributes is who the cluster is asked about: the identity Drover
// would forward for the caller without --as.
func callerAttributes(ident authn.Identity) (user string, groups []string, extra map[string]authorizationv1.ExtraValue) {
	groups = append(slices.Clone(ident.Groups), impersonation.Authenticated)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	extra = map[string]authorizationv1.ExtraValue{
		downstream.ExtraTokenID: {ident.TokenID},
		downstream.ExtraUserID:  {ident.UserID},
	}
	return ident.Username, groups, extra
}

// cacheKey names one question: this caller, with this token, in this
// cluster, acting as this identity. It is a hash, so an entry costs the
// same however many groups the caller has.
type cacheKey [sha256.Size]byte

// keyFor hashes every part of the question that the reviews depend on.
// Each string is length-prefixed and each list count-prefixed, so no two
// questions share an encoding (["a","b"] as user "c" is not ["a"] as user
// "b" in group "c").
func keyFor(clusterID string, ident authn.Identity, req *impersonation.Request) cacheKey {
	_, groups, _ := callerAttributes(ident)
	target := slices.Clone(req.Groups)
	slices.Sort(target)
	h := sha256.New()
	var n [8]byte
	num := func(v int) { binary.BigEndian.PutUint64(n[:], uint64(v)); h.Write(n[:]) }
	str := func(s string) { num(len(s)); io.WriteString(h, s) }
	list := func(ss []string) {
		num(len(ss))
		for _, s := range ss {
			str(s)
		}
	}
	str(clusterID)
	str(ident.TokenID)
	str(ident.UserID)
	str(ident.Username)
	list(groups)
	str(req.User)
	list(target)
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// authorize returns nil if the cluster of sess allows ident to act as req.
// A refusal is a *denial; any other error means the cluster could not be
// asked, and the request must be refused all the same.
func (n *nested) authorize(ctx context.Context, sess *tunnel.Session, ident authn.Identity, req *impersonation.Request) error {
	key := keyFor(sess.ClusterID, ident, req)
	if a, ok := n.cached(key); ok {
		if a.denied != nil {
			return a.denied
		}
		return nil
	}
	release, ok := n.acquire(ident.UserID)
	if !ok {
		return errBusy
	}
	defer release()
	// One deadline for every review of this request: a slow cluster
	// costs the client at most timeout, not timeout per group.
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	user, groups, extra := callerAttributes(ident)
	checks := []authorizationv1.ResourceAttributes{{Verb: "impersonate", Resource: "users", Name: req.User}}
	for _, g := range req.Groups {
		checks = append(checks, authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "groups", Name: g})
	}
	for _, attrs := range checks {
		spec := authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, Extra: extra, ResourceAttributes: &attrs}
		st, err := review(ctx, sess, spec)
		if err != nil {
			return err
		}
		if !st.Allowed {
			d := &denial{message: denialMessage(ident.Username, sess.ClusterID, attrs, st), detail: st.EvaluationError}
			n.remember(key, d)
			return d
		}
	}
	n.remember(key, nil)
	return nil
}

// cached returns the unexpired answer to the question key, if any.
func (n *nested) cached(key cacheKey) (answer, bool) {
	if n.ttl <= 0 {
		return answer{}, false
	}
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	a, ok := n.answers[key]
	if !ok || !now.Before(a.expires) {
		return answer{}, false
	}
	return a, true
}

// remember caches an approval (denied nil) for ttl or a refusal for
// refusalTTL, but never longer than ttl.
func (n *nested) remember(key cacheKey, denied *denial) {
	if n.ttl <= 0 {
		return
	}
	keep := n.ttl
	if denied != nil {
		keep = min(keep, refusalTTL)
	}
	now := n.now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.answers) >= maxNestedCached {
		for k, a := range n.answers {
			if !now.Before(a.expires) {
				delete(n.answers, k)
			}
		}
		if len(n.answers) >= maxNestedCached {
			n.answers = map[cacheKey]answer{}
		}
	}
	n.answers[key] = answer{expires: now.Add(keep), denied: denied}
}

// denialMessage reads like the apiserver's own Forbidden message, with the
// cluster named and the review's reason (the cluster's authorizer tells the
// caller the same when it refuses a request).
func denialMessage(user, clusterID string, attrs authorizationv1.ResourceAttributes, st authorizationv1.SubjectAccessReviewStatus) string {
	reason := st.Reason
	if reason == "" {
		reason = "no rule allows it"
	}
	if len(reason) > 256 {
		reason = reason[:256] + "…"
	}
	return fmt.Sprintf(`%s %q is forbidden: User %q cannot impersonate resource %q in API group "" in cluster %q (SubjectAccessReview: %s)`,
		attrs.Resource, attrs.Name, user, attrs.Resource, clusterID, reason)
}

// review sends one SubjectAccessReview through the cluster agent's session
// with the controller's credential (the accounts that carry users' requests
// may not create reviews). ctx bounds it.
func review(ctx context.Context, sess *tunnel.Session, spec authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error) {
	var none authorizationv1.SubjectAccessReviewStatus
	body, err := json.Marshal(authorizationv1.SubjectAccessReview{
		TypeMeta: metav1.TypeMeta{Kind: "SubjectAccessReview", APIVersion: "authorization.k8s.io/v1"},
		Spec:     spec,
	})
	if err != nil {
		return none, fmt.Errorf("encode subject access review: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sess.BaseURL()+sarPath, bytes.NewReader(body))
	if err != nil {
		return none, fmt.Errorf("build subject access review: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "drover-authproxy")
	req.Header.Set("Authorization", "Bearer "+sess.Params.Token)
	resp, err := sess.Transport(false).RoundTrip(req)
	if err != nil {
		return none, fmt.Errorf("subject access review in cluster %q: %w", sess.ClusterID, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return none, fmt.Errorf("read subject access review answer from cluster %q: %w", sess.ClusterID, err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var st metav1.Status
		_ = json.Unmarshal(b, &st)
		return none, fmt.Errorf("subject access review in cluster %q: HTTP %d: %s", sess.ClusterID, resp.StatusCode, st.Message)
	}
	var out authorizationv1.SubjectAccessReview
	if err := json.Unmarshal(b, &out); err != nil {
		return none, fmt.Errorf("decode subject access review answer from cluster %q: %w", sess.ClusterID, err)
	}
	if out.Kind != "SubjectAccessReview" {
		return none, fmt.Errorf("subject access review in cluster %q: answered with kind %q", sess.ClusterID, out.Kind)
	}
	return out.Status, nil
}

// approveNested asks the cluster whether the caller may act as asked and
// answers the client itself when not: 403 with the cluster's reason for a
// refusal, 503 when the cluster could not be asked. Nothing is forwarded
// unless it returns true.
func (p *Proxy) approveNested(w http.ResponseWriter, r *http.Request, sess *tunnel.Session, ident authn.Identity, asked *impersonation.Request) bool {
	log := p.opts.Logger.With("cluster", sess.ClusterID, "user", ident.Username, "as", asked.User, "as_groups", asked.Groups)
	err := p.nested.authorize(r.Context(), sess, ident, asked)
	var d *denial
	switch {
	case err == nil:
		return true
	case errors.As(err, &d):
		log.Info("nested impersonation refused by the cluster", "evaluation_error", d.detail)
		apierr.Write(w, http.StatusForbidden, metav1.StatusReasonForbidden, d.message)
	case errors.Is(err, errBusy):
		log.Warn("nested impersonation refused: too many checks in flight for the user")
		w.Header().Set("Retry-After", "1")
		apierr.Write(w, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests,
			fmt.Sprintf("too many impersonation checks in flight for user %q; try again in a second", ident.Username))
	case r.Context().Err() != nil:
		// The client went away; nobody to answer.
	default:
		log.Warn("nested impersonation could not be checked", "err", err)
		apierr.Unavailable(w, "could not ask cluster %q whether user %q may impersonate %q; try again", sess.ClusterID, ident.Username, asked.User)
	}
	return false
}

// statusReason is the metav1 reason for a refusal's code.
func statusReason(code int) metav1.StatusReason {
	if code == http.StatusForbidden {
		return metav1.StatusReasonForbidden
	}
	return metav1.StatusReasonBadRequest
}
