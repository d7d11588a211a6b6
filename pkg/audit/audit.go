package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/request"
)

// Level is how much is written.
type Level int

// Levels.
const (
	LevelNone   Level = iota // nothing
	LevelWrites              // requests that may change something (not GET, HEAD, watch) and every refusal
	LevelAll                 // every request
)

// ParseLevel reads "none", "writes" or "all".
func ParseLevel(s string) (Level, error) {
	switch s {
	case "none":
		return LevelNone, nil
	case "writes":
		return LevelWrites, nil
	case "all":
		return LevelAll, nil
	}
	return 0, fmt.Errorf("audit level %q must be none, writes or all", s)
}

// Entry is one line of the log.
type Entry struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"` // "api" or "proxy"
	User   string    `json:"user,omitempty"`
	UserID string    `json:"userId,omitempty"`
	Groups []string  `json:"groups,omitempty"`
	// As and AsGroups are the identity a nested impersonation (kubectl
	// --as) asked for, whether or not the cluster allowed it.
	As        string   `json:"as,omitempty"`
	AsGroups  []string `json:"asGroups,omitempty"`
	TokenID   string   `json:"tokenId,omitempty"`
	Cluster   string   `json:"cluster,omitempty"`
	Verb      string   `json:"verb"`
	Resource  string   `json:"resource,omitempty"`
	Namespace string   `json:"namespace,omitempty"`
	Name      string   `json:"name,omitempty"`
	Path      string   `json:"path,omitempty"` // API calls only, secrets redacted
	Status    int      `json:"status"`
	LatencyMS float64  `json:"latencyMs"`
	Client    string   `json:"client"`

	// For the Kubernetes schema only (FormatKubernetes): the request path
	// (redacted), the proxied request's API group, version and
	// subresource, and the client's User-Agent.
	uri, apiGroup, apiVersion, subresource, userAgent string
	latency                                           time.Duration
}

// Format is the schema of the log's lines.
type Format int

// Formats.
const (
	// FormatDrover is Drover's own Entry, one JSON object per line.
	FormatDrover Format = iota
	// FormatKubernetes is the audit.k8s.io/v1 Event of kube-apiserver's
	// audit log at level Metadata, so that pipelines that parse the
	// apiserver's audit log parse Drover's; what Drover adds (the kind of
	// request, the cluster, the token id) is in annotations.
	FormatKubernetes
)

// ParseFormat reads "drover" or "kubernetes".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "drover":
		return FormatDrover, nil
	case "kubernetes":
		return FormatKubernetes, nil
	}
	return 0, fmt.Errorf("audit format %q must be drover or kubernetes", s)
}

// Log writes entries as JSON lines.
type Log struct {
	mu     sync.Mutex
	w      io.Writer
	level  Level
	format Format
}

// New returns a Log writing to w at level, in Drover's format.
func New(w io.Writer, level Level) *Log { return NewFormat(w, level, FormatDrover) }

// NewFormat returns a Log writing to w at level in format f.
func NewFormat(w io.Writer, level Level, f Format) *Log { return &Log{w: w, level: level, format: f} }

func (l *Log) write(e *Entry) {
	var b []byte
	var err error
	if l.format == FormatKubernetes {
		b, err = json.Marshal(kubernetesEvent(e))
	} else {
		b, err = json.Marshal(e)
	}
	if err != nil {
		return
	}
	l.mu.Lock()
	l.w.Write(append(b, '\n'))
	l.mu.Unlock()
}

type ctxKey struct{}

// SetImpersonation records the identity a request asked to act as
// (Impersonate-User/Group through the proxy).
func SetImpersonation(ctx context.Context, user string, groups []string) {
	if e, ok := ctx.Value(ctxKey{}).(*Entry); ok {
		e.As, e.AsGroups = user, groups
	}
}

// SetUser records the username a request claims before it is authenticated
// (a login), for the request's entry.
func SetUser(ctx context.Context, username string) {
	if e, ok := ctx.Value(ctxKey{}).(*Entry); ok {
		e.User = username
	}
}

// WithAudit writes one entry per request once the response is done. Put
// it outside authentication so that refusals are recorded too, and put
// WithIdentity right after authentication.
func WithAudit(next http.Handler, l *Log) http.Handler {
	if l == nil || l.level == LevelNone {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		e := &Entry{Time: start.UTC(), Client: client(r), userAgent: r.UserAgent()}
		rec := request.NewRecorder(w)
		defer func() {
			e.latency = time.Since(start)
			e.LatencyMS = float64(e.latency.Microseconds()) / 1000
			e.Status = rec.Status(r)
			describe(e, r)
			if l.level == LevelAll || e.Status >= 400 || !readOnly(r, e) {
				l.write(e)
			}
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), ctxKey{}, e)))
	})
}

// client is the request's client address as request.Info derived it (a
// trusted proxy's forwarding header, else the peer), else the peer.
func client(r *http.Request) string {
	if info, ok := request.FromContext(r.Context()); ok && info.Client.IsValid() {
		return info.Client.String()
	}
	return r.RemoteAddr
}

// WithIdentity copies the authenticated identity into the request's entry.
func WithIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e, ok := r.Context().Value(ctxKey{}).(*Entry); ok {
			if id, ok := authn.FromContext(r.Context()); ok {
				e.User, e.UserID, e.Groups, e.TokenID = id.Username, id.UserID, id.Groups, id.TokenID
			}
		}
		next.ServeHTTP(w, r)
	})
}

// describe fills what the request was about from its request.Info (parsed
// once by request.WithRequestInfo, which runs before this filter).
func describe(e *Entry, r *http.Request) {
	info, ok := request.FromContext(r.Context())
	if !ok {
		e.Kind, e.Verb, e.Path = "api", request.MethodVerb(r.Method), request.RedactPath(r.URL.Path)
		e.uri = e.Path
		return
	}
	e.Verb, e.uri = info.Verb, info.LogPath
	if info.Kind == request.KindProxy {
		e.Kind = "proxy"
		k := info.Kube
		e.Cluster, e.Resource, e.Namespace, e.Name = info.ClusterID, k.Resource, k.Namespace, k.Name
		e.apiGroup, e.apiVersion, e.subresource = k.APIGroup, k.APIVersion, k.Subresource
		if k.Subresource != "" {
			e.Resource += "/" + k.Subresource
		}
		return
	}
	e.Kind = "api"
	e.Path = info.LogPath
}

// readOnly says whether --audit-level=writes leaves r out: reads and
// watches. A GET that upgrades (a websocket exec, attach or port-forward,
// the console's shell) opens a stream into the cluster, so it is written.
func readOnly(r *http.Request, e *Entry) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	return r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions || e.Verb == "watch"
}
