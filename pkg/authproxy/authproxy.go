package authproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// PathPrefix is where the proxy is mounted.
const PathPrefix = "/k8s/clusters/"

// Sessions is what the proxy needs from the tunnel server.
type Sessions interface {
	Session(clusterID string) (*tunnel.Session, bool)
	Status(clusterID string) tunnel.Status
}

// Clusters is what the proxy reads to know a cluster exists.
type Clusters interface {
	Cluster(ctx context.Context, id string) (store.Cluster, error)
}

// Options configure a Proxy.
type Options struct {
	Sessions Sessions
	Clusters Clusters
	Logger   *slog.Logger
	Metrics  *metrics.Server // nil: a private registry
	// Streams tracks open requests by token so revocation ends them; nil:
	// untracked (tests).
	Streams *Streams
	// Members says who may reach a cluster at all: global admins always,
	// others only with a binding in it. Nil refuses every non-admin.
	Members Members
	// NestedCacheTTL is how long an approved nested impersonation (kubectl
	// --as) is reused without asking the cluster again (default 5 s;
	// negative: no answer is ever reused). Refusals are reused for 1 s (or
	// NestedCacheTTL if shorter).
	NestedCacheTTL time.Duration
	// NoteImpersonation, if set, is told whom a request asked to act as
	// (whether or not the cluster then allows it), so the audit entry of the
	// request can name both identities.
	NoteImpersonation func(ctx context.Context, user string, groups []string)
	// Now is the clock of the nested-impersonation cache; nil: time.Now.
	Now func() time.Time
}

// Members answers cluster membership (package access).
type Members interface {
	Member(ctx context.Context, userID, clusterID string) (bool, error)
}

// Proxy serves /k8s/clusters/{id}/...
type Proxy struct {
	opts   Options
	rp     *httputil.ReverseProxy
	nested *nested

	// known caches clusters found in the store, so the hot path does not
	// read the database on every request.
	mu    sync.Mutex
	known map[string]time.Time
}

// clusterKnownFor is how long a cluster found in the store is trusted to
// exist without another read.
const clusterKnownFor = 5 * time.Second

// clusterExists reads the store at most every clusterKnownFor per cluster.
// Only positive answers are cached: a hostile client cannot fill it.
func (p *Proxy) clusterExists(ctx context.Context, id string) error {
	now := time.Now()
	p.mu.Lock()
	at, ok := p.known[id]
	p.mu.Unlock()
	if ok && now.Sub(at) < clusterKnownFor {
		return nil
	}
	if _, err := p.opts.Clusters.Cluster(ctx, id); err != nil {
		p.mu.Lock()
		delete(p.known, id)
		p.mu.Unlock()
		return err
	}
	p.mu.Lock()
	p.known[id] = now
	p.mu.Unlock()
	return nil
}

type targetKey struct{}

// target is what ServeHTTP decided; Rewrite and the transport only apply it.
type target struct {
	session  *tunnel.Session
	identity impersonation.Identity
	nested   bool // identity is an approved kubectl --as
	path     string
	rawPath  string
	upgrade  string
}

// New returns a Proxy.
func New(opts Options) *Proxy {
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewServer()
	}
	ttl := opts.NestedCacheTTL
	if ttl == 0 {
		ttl = defaultNestedTTL
	}
	p := &Proxy{opts: opts, known: map[string]time.Time{}, nested: newNested(ttl, opts.Now)}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      roundTripper{},
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.proxyError,
		BufferPool:     newBufferPool(64 << 10),
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return p
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ident, ok := authn.FromContext(r.Context())
	if !ok || ident.Username == "" {
		// Fail closed: a wiring mistake must not forward anonymously.
		p.opts.Logger.Error("proxy reached without an identity", "path", r.URL.Path)
		apierr.Unauthorized(w)
		return
	}
	clusterID, path, rawPath, ok := splitPath(r.URL)
	if !ok {
		apierr.NotFound(w, "no cluster named in path; use %s{cluster-id}/...", PathPrefix)
		return
	}
	if ident.ClusterID != "" && ident.ClusterID != clusterID {
		apierr.Forbidden(w, "this token is scoped to another cluster and may not be used for cluster %q", clusterID)
		return
	}
	if err := p.clusterExists(r.Context(), clusterID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			apierr.NotFound(w, "cluster %q not found", clusterID)
			return
		}
		p.opts.Logger.Error("look up cluster", "cluster", clusterID, "err", err)
		apierr.Internal(w)
		return
	}
	if !ident.Admin {
		member := false
		if p.opts.Members != nil {
			var err error
			if member, err = p.opts.Members.Member(r.Context(), ident.UserID, clusterID); err != nil {
				p.opts.Logger.Error("check cluster membership", "cluster", clusterID, "user", ident.UserID, "err", err)
				apierr.Internal(w)
				return
			}
		}
		if !member {
			apierr.Forbidden(w, "user %q is not a member of cluster %q; ask a Drover admin for a binding", ident.Username, clusterID)
			return
		}
	}
	// The client's own identity headers: none, a nested impersonation
	// request (approved below or refused), or refused now.
	asked, err := impersonation.ParseRequest(r.Header)
	if err != nil {
		var re *impersonation.RequestError
		if !errors.As(err, &re) {
			re = &impersonation.RequestError{Code: http.StatusBadRequest, Message: "identity headers refused"}
		}
		p.opts.Logger.Info("refused client identity headers", "cluster", clusterID, "user", ident.Username, "reason", re.Message)
		apierr.Write(w, re.Code, statusReason(re.Code), re.Message)
		return
	}
	if asked != nil && p.opts.NoteImpersonation != nil {
		p.opts.NoteImpersonation(r.Context(), asked.User, asked.Groups)
	}
	sess, ok := p.opts.Sessions.Session(clusterID)
	if !ok {
		msg := fmt.Sprintf("cluster %q is not connected", clusterID)
		if st := p.opts.Sessions.Status(clusterID); st.DisconnectedAt != nil {
			msg += "; no agent connected since " + st.DisconnectedAt.UTC().Format(time.RFC3339)
		}
		apierr.Unavailable(w, "%s", msg)
		return
	}
	id := impersonation.Identity{
		User:   ident.Username,
		Groups: ident.Groups,
		Extra: map[string][]string{
			downstream.ExtraTokenID: {ident.TokenID},
			downstream.ExtraUserID:  {ident.UserID},
		},
	}
	if asked != nil {
		id = impersonation.Identity{
			User:   asked.User,
			Groups: asked.Groups,
			Extra: map[string][]string{
				downstream.ExtraTokenID:      {ident.TokenID},
				downstream.ExtraUserID:       {ident.UserID},
				downstream.ExtraOriginalUser: {ident.Username},
			},
		}
	}
	// Set would refuse it too (and the transport then refuses the
	// request); refusing here answers with a clear message and asks the
	// cluster nothing.
	if err := id.Validate(); err != nil {
		p.opts.Logger.Warn("identity cannot be forwarded", "cluster", clusterID, "user", ident.Username, "err", err)
		apierr.Forbidden(w, "your identity cannot be forwarded to cluster %q: a user or group name is empty, "+
			"has leading or trailing whitespace or a character not allowed in an HTTP header; ask a Drover admin", clusterID)
		return
	}
	if asked != nil && !p.approveNested(w, r, sess, ident, asked) {
		return
	}
	t := &target{
		session:  sess,
		identity: id,
		nested:   asked != nil,
		path:     path,
		rawPath:  rawPath,
		upgrade:  upgradeType(r.Header),
	}
	rec := &recorder{ResponseWriter: w}
	var in *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		in = &countingBody{ReadCloser: r.Body}
		r.Body = in
	}
	defer p.observe(rec, in, r.Method, path, r.URL.Query(), t, time.Now())
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	if p.opts.Streams != nil {
		// A revoked token's request ends here; for upgrades ReverseProxy
		// closes the hijacked connections when this context ends.
		defer p.opts.Streams.track(ident.TokenID, Owner{UserID: ident.UserID, ClusterID: clusterID}, cancel)()
	}
	p.rp.ServeHTTP(rec, r.WithContext(context.WithValue(ctx, targetKey{}, t)))
}

// splitPath returns the cluster id and the downstream path, keeping the
// client's escaping.
func splitPath(u *url.URL) (id, path, rawPath string, ok bool) {
	esc := u.EscapedPath()
	if !strings.HasPrefix(esc, PathPrefix) {
		return "", "", "", false
	}
	rest := esc[len(PathPrefix):]
	id, tail, _ := strings.Cut(rest, "/")
	if !validClusterID(id) {
		return "", "", "", false
	}
	rawPath = "/" + tail
	unescaped, err := url.PathUnescape(rawPath)
	if err != nil {
		return "", "", "", false
	}
	if unescaped == rawPath {
		rawPath = ""
	}
	return id, unescaped, rawPath, true
}

func validClusterID(id string) bool {
	if id == "" || len(id) > 63 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(targetKey{}).(*target)
	out := pr.Out
	impersonation.Strip(out.Header)
	if t.upgrade != "" {
		// ReverseProxy re-adds these after dropping hop-by-hop headers;
		// Strip removed them again with the rest of Connection's list.
		out.Header.Set("Connection", "Upgrade")
		out.Header.Set("Upgrade", t.upgrade)
	}
	if err := impersonation.Set(out.Header, t.identity); err != nil {
		// The round tripper refuses a request without Impersonate-User.
		return
	}
	out.Header.Set("Authorization", "Bearer "+t.session.Params.Token)
	out.URL.Scheme = "https"
	out.URL.Host = t.session.Params.Endpoint
	out.URL.Path = t.path
	out.URL.RawPath = t.rawPath
	out.Host = ""
}

// errNoIdentity is what the transport returns for a request that lost its
// identity between ServeHTTP and the wire.
var errNoIdentity = errors.New("refusing to forward a request without impersonation headers")

// roundTripper sends a request through its cluster's tunnel after checking
// the security invariants one last time.
type roundTripper struct{}

func (roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	t, ok := req.Context().Value(targetKey{}).(*target)
	if !ok {
		return nil, errNoIdentity
	}
	auths := req.Header.Values("Authorization")
	if len(auths) != 1 || auths[0] != "Bearer "+t.session.Params.Token {
		return nil, errNoIdentity
	}
	for k := range req.Header {
		if k != "Authorization" && (strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Proxy-Authorization")) {
			return nil, fmt.Errorf("%w: header %q", errNoIdentity, k)
		}
	}
	if err := impersonation.Verify(req.Header, t.identity); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoIdentity, err)
	}
	return t.session.Transport(t.upgrade != "").RoundTrip(req)
}

func modifyResponse(resp *http.Response) error {
	t, ok := resp.Request.Context().Value(targetKey{}).(*target)
	if ok && t.upgrade != "" && resp.StatusCode != http.StatusSwitchingProtocols {
		// The upgrade was refused: close the client connection after this
		// response, as the single-use backend connection is closed too.
		resp.Header.Set("Connection", "close")
	}
	return nil
}

func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(context.Cause(r.Context()), errRevoked) {
		apierr.Write(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized: the token was revoked")
		return
	}
	if r.Context().Err() != nil {
		return // the client went away; nobody to answer
	}
	t, _ := r.Context().Value(targetKey{}).(*target)
	cluster := ""
	if t != nil {
		cluster = t.session.ClusterID
	}
	p.opts.Logger.Warn("proxy to cluster failed", "cluster", cluster, "path", r.URL.Path, "err", err)
	if errors.Is(err, errNoIdentity) {
		apierr.Write(w, http.StatusInternalServerError, "InternalError", "request refused: identity could not be set")
		return
	}
	apierr.BadGateway(w, "error reaching cluster %q through its agent; try again", cluster)
}

// upgradeType mirrors ReverseProxy: the Upgrade value if Connection lists it.
func upgradeType(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

type bufferPool struct{ p sync.Pool }

func newBufferPool(size int) *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, size); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(v []byte) { b.p.Put(&v) }
