package request

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/drover-dev/drover/pkg/ids"
)

// ProxyPrefix is where the proxy is mounted: /k8s/clusters/{id}/<downstream path>.
const ProxyPrefix = "/k8s/clusters/"

// APIPrefix is where Drover's JSON API lives.
const APIPrefix = "/v3/"

// Kind is the surface of Drover a request addresses.
type Kind uint8

// Kinds.
const (
	KindOther Kind = iota // health, CA, the agents' tunnel, anything unknown
	KindAPI               // /v3/...
	KindProxy             // /k8s/clusters/...
)

// String names the kind as the audit log does.
func (k Kind) String() string {
	switch k {
	case KindAPI:
		return "api"
	case KindProxy:
		return "proxy"
	}
	return "other"
}

// Info is what a request is about.
type Info struct {
	Kind Kind
	// ClusterID is the cluster a proxied request names; empty when the path
	// names none that could be a cluster id.
	ClusterID string
	// Path is the downstream path of a proxied request (unescaped); RawPath
	// is its escaped form when that differs, as url.URL has them.
	Path, RawPath string
	// Kube describes a proxied request as the downstream apiserver will see
	// it (for audit and metrics only).
	Kube RequestInfo
	// Verb is Kube.Verb for proxied requests, MethodVerb otherwise.
	Verb string
	// LogPath is the request path fit for a log line: secrets redacted,
	// length bounded.
	LogPath string
	// Client is the client's address (ClientOptions.ClientAddr): what the
	// login limits count and the audit log records. Invalid only when the
	// connection has no IP address (tests).
	Client netip.Addr
}

// ClientKey is the key the per-address limits count this request under
// (AddrKey of Client).
func (i *Info) ClientKey() string { return AddrKey(i.Client) }

type ctxKey struct{}

// WithRequestInfo parses the request once and puts its Info in the context;
// opts say whose forwarding headers name the client.
func WithRequestInfo(next http.Handler, opts ClientOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := Parse(r, opts)
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), info)))
	})
}

// NewContext returns ctx carrying info.
func NewContext(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// FromContext returns the request's Info; ok is false when WithRequestInfo
// did not run.
func FromContext(ctx context.Context) (*Info, bool) {
	info, ok := ctx.Value(ctxKey{}).(*Info)
	return info, ok && info != nil
}

// Parse derives a request's Info.
func Parse(r *http.Request, opts ClientOptions) *Info {
	info := parsePath(r)
	info.Client = opts.ClientAddr(r)
	return info
}

// parsePath derives all of a request's Info but the client's address.
func parsePath(r *http.Request) *Info {
	info := &Info{LogPath: RedactPath(r.URL.Path), Verb: MethodVerb(r.Method)}
	switch {
	case strings.HasPrefix(r.URL.Path, ProxyPrefix):
		info.Kind = KindProxy
		id, path, raw, ok := SplitProxyPath(r.URL)
		if !ok {
			return info
		}
		info.ClusterID, info.Path, info.RawPath = id, path, raw
		info.Kube = ParseRequestInfo(r.Method, path, r.URL.Query())
		info.Verb = info.Kube.Verb
	case strings.HasPrefix(r.URL.Path, APIPrefix):
		info.Kind = KindAPI
	}
	return info
}

// SplitProxyPath returns the cluster id and the downstream path of a
// /k8s/clusters/{id}/... URL, keeping the client's escaping. ok is false
// when the first segment is not a cluster id (ids.Cluster.Valid: checked
// on the escaped path, so an escaped character is never part of an id).
func SplitProxyPath(u *url.URL) (id, path, rawPath string, ok bool) {
	esc := u.EscapedPath()
	if !strings.HasPrefix(esc, ProxyPrefix) {
		return "", "", "", false
	}
	rest := esc[len(ProxyPrefix):]
	id, tail, _ := strings.Cut(rest, "/")
	if !ids.Cluster.Valid(id) {
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
