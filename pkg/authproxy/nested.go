package authproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/transport"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// sarPath is where a cluster answers SubjectAccessReviews.
const sarPath = "/apis/authorization.k8s.io/v1/subjectaccessreviews"

// sarTimeout bounds one review; the client waits for it.
const sarTimeout = 10 * time.Second

// defaultNestedTTL is how long an approved nested impersonation is reused
// without asking the cluster again.
const defaultNestedTTL = 5 * time.Second

// maxNestedCached bounds the cache; past it the cache starts over.
const maxNestedCached = 10_000

// denial is a refusal by the cluster: message is for the client, detail
// (the review's evaluation error, if any) for the log.
type denial struct{ message, detail string }

func (d *denial) Error() string { return d.message }

// nested approves nested impersonation (kubectl --as) by asking the target
// cluster, through its own tunnel session, whether the Drover user may
// impersonate the requested user and each requested group. Only approvals
// are cached, for a few seconds, keyed by cluster, caller and request; a
// grant made in the cluster works at once, a revocation within the TTL.
type nested struct {
	ttl time.Duration // <= 0: no cache
	now func() time.Time

	mu       sync.Mutex
	approved map[string]time.Time
}

func newNested(ttl time.Duration, now func() time.Time) *nested {
	if now == nil {
		now = time.Now
	}
	return &nested{ttl: ttl, now: now, approved: map[string]time.Time{}}
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

// cacheKey names one question: this caller, in this cluster, acting as this
// identity. Every part is length-prefixed, so no two questions share a key.
func cacheKey(clusterID string, ident authn.Identity, req *impersonation.Request) string {
	_, groups, _ := callerAttributes(ident)
	var b strings.Builder
	add := func(s string) { b.WriteString(strconv.Itoa(len(s))); b.WriteByte(':'); b.WriteString(s) }
	add(clusterID)
	add(ident.UserID)
	add(ident.Username)
	for _, g := range groups {
		add(g)
	}
	b.WriteByte('|')
	add(req.User)
	target := slices.Clone(req.Groups)
	slices.Sort(target)
	for _, g := range target {
		add(g)
	}
	return b.String()
}

// authorize returns nil if the cluster of sess allows ident to act as req.
// A refusal is a *denial; any other error means the cluster could not be
// asked, and the request must be refused all the same.
func (n *nested) authorize(ctx context.Context, sess *tunnel.Session, ident authn.Identity, req *impersonation.Request) error {
	key := cacheKey(sess.ClusterID, ident, req)
	now := n.now()
	if n.ttl > 0 {
		n.mu.Lock()
		at, ok := n.approved[key]
		n.mu.Unlock()
		if ok && now.Sub(at) < n.ttl {
			return nil
		}
	}
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
			return &denial{message: denialMessage(ident.Username, sess.ClusterID, attrs, st), detail: st.EvaluationError}
		}
	}
	if n.ttl > 0 {
		n.mu.Lock()
		if len(n.approved) >= maxNestedCached {
			n.approved = map[string]time.Time{}
		}
		n.approved[key] = now
		n.mu.Unlock()
	}
	return nil
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

// review sends one SubjectAccessReview through the session as
// downstream.ControllerUser: the impersonate-only ServiceAccount token may
// not create reviews itself, the controller's role may.
func review(ctx context.Context, sess *tunnel.Session, spec authorizationv1.SubjectAccessReviewSpec) (authorizationv1.SubjectAccessReviewStatus, error) {
	var none authorizationv1.SubjectAccessReviewStatus
	body, err := json.Marshal(authorizationv1.SubjectAccessReview{
		TypeMeta: metav1.TypeMeta{Kind: "SubjectAccessReview", APIVersion: "authorization.k8s.io/v1"},
		Spec:     spec,
	})
	if err != nil {
		return none, fmt.Errorf("encode subject access review: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, sarTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sess.BaseURL()+sarPath, bytes.NewReader(body))
	if err != nil {
		return none, fmt.Errorf("build subject access review: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "drover-authproxy")
	req.Header.Set("Authorization", "Bearer "+sess.Params.Token)
	rt := transport.NewImpersonatingRoundTripper(transport.ImpersonationConfig{UserName: downstream.ControllerUser}, sess.Transport(false))
	resp, err := rt.RoundTrip(req)
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
