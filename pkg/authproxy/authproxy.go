package authproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/accounts"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// PathPrefix is where the proxy is mounted.
const PathPrefix = request.ProxyPrefix

// Sessions is what the proxy needs from the tunnel server.
type Sessions interface {
	// Session is the session that carries a user's request (the cluster
	// agent's, else a node agent's).
	Session(clusterID string) (*tunnel.Session, bool)
	// ClusterAgent is the cluster agent's session, the only one that
	// carries the controller's credential (subject access reviews).
	ClusterAgent(clusterID string) (*tunnel.Session, bool)
	Status(clusterID string) tunnel.Status
}

// Credentials give the credential a request is forwarded with: a token of
// the impersonation account of exactly the identity forwarded (package
// accounts).
type Credentials interface {
	Credential(ctx context.Context, req accounts.Request) (string, error)
	// Invalidate forgets a credential the cluster refused (401).
	Invalidate(req accounts.Request)
}

// Options configure a Proxy.
type Options struct {
	Sessions    Sessions
	Credentials Credentials
	Logger      *slog.Logger
	Metrics     *metrics.Server // nil: a private registry
	// Streams tracks open requests by token so revocation ends them; nil:
	// untracked (tests).
	Streams *Streams
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
	// WatchResumeWindow bounds how long a watch whose tunnel failed waits
	// for a session to carry it again (default 30 s; see watch.go).
	WatchResumeWindow time.Duration
	// MaxRequestsPerUser bounds the requests one user may have open
	// through the proxy at once; more get 429 (0: DefaultMaxRequestsPerUser).
	MaxRequestsPerUser int
	// Tracer traces each forwarded request and hands its trace context to
	// the apiserver; nil: not traced (package tracing).
	Tracer ForwardTracer
}

// ForwardTracer starts the span of a request forwarded through the tunnel
// of cluster by the agent of kind via, writing its trace context into
// req's headers; end records the answer.
type ForwardTracer interface {
	StartForward(req *http.Request, cluster, via string) (end func(code int, err error))
}

// Proxy serves /k8s/clusters/{id}/... as the last step of the chain that
// pkg/server composes: its ServeHTTP forwards only a request on which every
// earlier step ran (see target), and its With* methods are the proxy's own
// steps in that chain.
type Proxy struct {
	opts   Options
	rp     *httputil.ReverseProxy
	nested *nested
	users  *userLimit
}

type targetKey struct{}

// target is what the chain decided; Rewrite and the transport only apply it.
type target struct {
	session    *tunnel.Session
	credential string // the account token the request carries downstream
	account    accounts.Request
	identity   impersonation.Identity
	nested     bool // identity is an approved kubectl --as
	path       string
	rawPath    string
	upgrade    string
	// subresource names what an upgrade carries (exec, attach,
	// portforward), for the message that ends it.
	subresource string
	watch       bool // a GET watch: its body resumes across tunnel failures
	logs        bool // a GET of a followed container log: likewise (logs.go)
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
	p := &Proxy{opts: opts, nested: newNested(ttl, opts.Now), users: newUserLimit(opts.MaxRequestsPerUser)}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      roundTripper{p: p},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.proxyError,
		BufferPool:     newBufferPool(64 << 10),
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return p
}

// errIncomplete is why a request reached the proxy without a step of the
// chain having run: a wiring mistake, answered with 500, never forwarded.
var errIncomplete = errors.New("the handler chain did not run every step before the proxy")

// planAndCluster returns the request's plan and the cluster the access step
// allowed, or answers 500 itself.
func (p *Proxy) planAndCluster(w http.ResponseWriter, r *http.Request) (*plan, string, bool) {
	pl, ok := planFrom(r.Context())
	dec, decided := access.DecisionFrom(r.Context())
	if !ok || !decided || dec.ClusterID == "" {
		p.opts.Logger.Error("proxy step reached without an access decision or identity plan", "err", errIncomplete)
		apierr.Internal(w)
		return nil, "", false
	}
	return pl, dec.ClusterID, true
}

// assemble checks that every step of the chain ran for this very request
// (the same cluster, credential and identity throughout) and returns what
// to forward.
func assemble(r *http.Request) (*target, authn.Identity, *request.Info, error) {
	ctx := r.Context()
	ident, ok := authn.FromContext(ctx)
	if !ok || ident.Username == "" || ident.StreamOwner == "" {
		return nil, ident, nil, fmt.Errorf("%w: no identity", errIncomplete)
	}
	info, ok := request.FromContext(ctx)
	if !ok || info.Kind != request.KindProxy || info.ClusterID == "" {
		return nil, ident, nil, fmt.Errorf("%w: no request info", errIncomplete)
	}
	dec, ok := access.DecisionFrom(ctx)
	if !ok || dec.ClusterID != info.ClusterID || dec.TokenID != ident.TokenID {
		return nil, ident, info, fmt.Errorf("%w: no access decision for this cluster and credential", errIncomplete)
	}
	pl, ok := planFrom(ctx)
	switch {
	case !ok:
		return nil, ident, info, fmt.Errorf("%w: no identity plan", errIncomplete)
	case pl.session == nil || pl.session.ClusterID != info.ClusterID:
		return nil, ident, info, fmt.Errorf("%w: no session for the cluster", errIncomplete)
	case pl.asked != nil && !pl.approved:
		return nil, ident, info, fmt.Errorf("%w: nested impersonation not approved", errIncomplete)
	case pl.credential == "":
		return nil, ident, info, fmt.Errorf("%w: no downstream credential", errIncomplete)
	}
	if err := pl.identity.Validate(); err != nil {
		return nil, ident, info, fmt.Errorf("%w: %w", errIncomplete, err)
	}
	return &target{
		session:     pl.session,
		credential:  pl.credential,
		account:     pl.account,
		identity:    pl.identity,
		nested:      pl.asked != nil,
		path:        info.Path,
		rawPath:     info.RawPath,
		upgrade:     upgradeType(r.Header),
		subresource: info.Kube.Subresource,
		watch:       r.Method == http.MethodGet && info.Kube.Verb == "watch" && upgradeType(r.Header) == "",
		logs: r.Method == http.MethodGet && info.Kube.Resource == "pods" && info.Kube.Subresource == "log" &&
			r.URL.Query().Get("follow") == "true" && upgradeType(r.Header) == "",
	}, ident, info, nil
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, ident, info, err := assemble(r)
	if err != nil {
		// Fail closed: a wiring mistake must not forward anything.
		p.opts.Logger.Error("proxy refused a request", "err", err)
		apierr.Internal(w)
		return
	}
	release, ok := p.users.acquire(ident.UserID)
	if !ok {
		p.opts.Logger.Warn("proxy refused a request: the user has too many open", "user_id", ident.UserID,
			"cluster", info.ClusterID, "max", p.users.max)
		p.users.refuse(w)
		return
	}
	defer release()
	rec := request.NewRecorder(w)
	var in *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		in = &countingBody{ReadCloser: r.Body}
		r.Body = in
	}
	defer p.observe(rec, r, in, info, t, time.Now())
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	if p.opts.Streams != nil {
		// A revoked token's request ends here; for upgrades ReverseProxy
		// closes the hijacked connections when this context ends.
		defer p.opts.Streams.track(ident.StreamOwner, Owner{UserID: ident.UserID, ClusterID: info.ClusterID}, cancel)()
	}
	p.rp.ServeHTTP(rec, r.WithContext(context.WithValue(ctx, targetKey{}, t)))
}

func rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(targetKey{}).(*target)
	out := pr.Out
	impersonation.Strip(out.Header)
	// A client's trace context never reaches the apiserver, tracing on or
	// off: it could force sampling there or graft the call onto another
	// trace under Drover's credential. With tracing on, the round tripper
	// writes the forward span's own (StartForward).
	for _, h := range []string{"Traceparent", "Tracestate", "Baggage"} {
		out.Header.Del(h)
	}
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
	out.Header.Set("Authorization", "Bearer "+t.credential)
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
// the security invariants one last time. With p set, a watch's response
// body resumes the watch when its tunnel fails (watch.go); the resumed
// requests go through a roundTripper without p.
type roundTripper struct{ p *Proxy }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	t, ok := req.Context().Value(targetKey{}).(*target)
	if !ok {
		return nil, errNoIdentity
	}
	auths := req.Header.Values("Authorization")
	if len(auths) != 1 || t.credential == "" || auths[0] != "Bearer "+t.credential {
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
	strip := false
	if rt.p != nil && t.logs {
		req = req.Clone(req.Context())
		strip = askTimestamps(req)
	}
	var end func(int, error)
	if rt.p != nil && rt.p.opts.Tracer != nil {
		end = rt.p.opts.Tracer.StartForward(req, t.session.ClusterID, t.session.Params.Kind)
	}
	resp, err := t.session.Transport(t.upgrade != "").RoundTrip(req)
	if end != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		end(code, err)
	}
	switch {
	case err != nil || rt.p == nil:
		return resp, err
	case t.watch:
		return rt.p.wrapWatch(req, resp, t), nil
	case t.logs:
		return rt.p.wrapLogs(req, resp, t, strip), nil
	case t.upgrade != "":
		return rt.p.wrapUpgrade(req, resp, t), nil
	}
	return resp, nil
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	t, ok := resp.Request.Context().Value(targetKey{}).(*target)
	if ok && resp.StatusCode == http.StatusUnauthorized && p.opts.Credentials != nil {
		// The cluster refused the account's token (the account was deleted
		// behind Drover's back): the next request makes it again.
		p.opts.Credentials.Invalidate(t.account)
	}
	if ok && t.upgrade != "" && resp.StatusCode != http.StatusSwitchingProtocols {
		// The upgrade was refused: close the client connection after this
		// response, as the single-use backend connection is closed too.
		resp.Header.Set("Connection", "close")
	}
	return nil
}

func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := causeStatus(context.Cause(r.Context())); ok {
		apierr.WriteStatus(w, st)
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
	p.opts.Logger.Warn("proxy to cluster failed", "cluster", cluster, "path", request.LogPath(r), "err", err)
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
