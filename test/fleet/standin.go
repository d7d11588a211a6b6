package fleet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/downstream"
)

// StandIn is the apiserver every simulated cluster advertises: one TLS
// listener on loopback with one handler, shared by all of them. It answers
// what the agent and the server's per-cluster controller ask (see doc.go
// for the request mix) with empty lists, absent objects and echoed writes,
// holds watches open as an idle apiserver does, and counts every request
// by verb and resource.
type StandIn struct {
	// Addr is host:port; CAPEM is the CA its certificate chains to.
	Addr  string
	CAPEM []byte

	srv *http.Server
	ln  net.Listener
	log *slog.Logger

	mu     sync.Mutex
	counts map[string]int64
	total  int64
}

// StartStandIn serves the stand-in on a free 127.0.0.1 port until Close.
func StartStandIn(log *slog.Logger) (*StandIn, error) {
	caPEM, cert, err := standInCert()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("stand-in listen: %w", err)
	}
	s := &StandIn{Addr: ln.Addr().String(), CAPEM: caPEM, ln: ln, log: log, counts: map[string]int64{}}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
			log.Error("stand-in apiserver", "err", err)
		}
	}()
	return s, nil
}

// Close stops the stand-in and ends its held watches.
func (s *StandIn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

// Counts returns the requests answered so far by "verb resource" (a
// subresource as resource/sub), and their total.
func (s *StandIn) Counts() (map[string]int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out, s.total
}

// Mix formats the difference of two Counts as "key=n" sorted by count.
func Mix(before, after map[string]int64) string {
	type kv struct {
		k string
		n int64
	}
	var list []kv
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			list = append(list, kv{k, d})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].k < list[j].k
	})
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = fmt.Sprintf("%s=%d", e.k, e.n)
	}
	return strings.Join(parts, " ")
}

func (s *StandIn) count(key string) {
	s.mu.Lock()
	s.counts[key]++
	s.total++
	s.mu.Unlock()
}

// target is what a resource path names.
type target struct {
	group, version, resource, namespace, name, sub string
}

// parsePath reads /api/v1/... and /apis/<group>/<version>/...; ok is
// false for anything else.
func parsePath(p string) (target, bool) {
	seg := strings.Split(strings.Trim(p, "/"), "/")
	var t target
	switch {
	case len(seg) >= 3 && seg[0] == "api":
		t.version, seg = seg[1], seg[2:]
	case len(seg) >= 4 && seg[0] == "apis":
		t.group, t.version, seg = seg[1], seg[2], seg[3:]
	default:
		return t, false
	}
	if len(seg) >= 3 && seg[0] == "namespaces" {
		t.namespace, seg = seg[1], seg[2:]
	}
	t.resource = seg[0]
	if len(seg) > 1 {
		t.name = seg[1]
	}
	if len(seg) > 2 {
		t.sub = seg[2]
	}
	return t, true
}

func (t target) apiVersion() string {
	if t.group == "" {
		return t.version
	}
	return t.group + "/" + t.version
}

// kindOf is the kind of a resource the agent or the controller uses
// ("" for others).
func kindOf(resource string) string {
	switch resource {
	case "namespaces":
		return "Namespace"
	case "nodes":
		return "Node"
	case "pods":
		return "Pod"
	case "events":
		return "Event"
	case "secrets":
		return "Secret"
	case "serviceaccounts":
		return "ServiceAccount"
	case "clusterroles":
		return "ClusterRole"
	case "clusterrolebindings":
		return "ClusterRoleBinding"
	case "roles":
		return "Role"
	case "rolebindings":
		return "RoleBinding"
	case "subjectaccessreviews":
		return "SubjectAccessReview"
	case "deployments":
		return "Deployment"
	case "daemonsets":
		return "DaemonSet"
	}
	return ""
}

// ServeHTTP answers one request.
func (s *StandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/readyz", "/livez", "/healthz":
		s.count("get " + r.URL.Path)
		io.WriteString(w, "ok")
		return
	case "/version":
		s.count("get /version")
		writeJSON(w, http.StatusOK, map[string]string{"major": "1", "minor": "33", "gitVersion": "v1.33.0-fleet-standin",
			"goVersion": "go1.26", "platform": "linux/amd64"})
		return
	}
	t, ok := parsePath(r.URL.Path)
	if !ok {
		s.count(strings.ToLower(r.Method) + " other")
		notFound(w, "", "")
		return
	}
	res := t.resource
	if t.sub != "" {
		res += "/" + t.sub
	}
	kind := kindOf(t.resource)
	switch r.Method {
	case http.MethodGet:
		switch {
		case t.name != "":
			s.count("get " + res)
			notFound(w, t.resource, t.name)
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			s.count("watch " + res)
			s.hold(w, r)
		default:
			s.count("list " + res)
			writeJSON(w, http.StatusOK, map[string]any{"kind": kind + "List", "apiVersion": t.apiVersion(),
				"metadata": map[string]string{"resourceVersion": "1"}, "items": stored(t)})
		}
	case http.MethodPost:
		s.count("create " + res)
		s.create(w, r, t, kind)
	case http.MethodPatch:
		verb := "patch "
		if r.Header.Get("Content-Type") == "application/apply-patch+yaml" {
			verb = "apply "
		}
		s.count(verb + res)
		echo(w, r, http.StatusOK, t, kind)
	case http.MethodPut:
		s.count("update " + res)
		echo(w, r, http.StatusOK, t, kind)
	case http.MethodDelete:
		s.count("delete " + res)
		notFound(w, t.resource, t.name)
	default:
		s.count(strings.ToLower(r.Method) + " " + res)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// stored is what a list of t holds: the binding of Drover's admins the
// agent applied (which the controller checks each pass and would apply
// again if it were missing), nothing else.
func stored(t target) []any {
	if t.resource != "clusterrolebindings" {
		return []any{}
	}
	return []any{map[string]any{
		"kind": "ClusterRoleBinding", "apiVersion": t.apiVersion(),
		"metadata": map[string]any{"name": downstream.AdminBinding, "labels": downstream.Labels(),
			"resourceVersion": "1", "uid": "00000000-0000-0000-0000-000000000002"},
		"roleRef":  map[string]string{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
		"subjects": []any{map[string]string{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": downstream.AdminGroup}},
	}}
}

// hold keeps a watch open and silent, as an apiserver with nothing to
// report does, until its timeoutSeconds pass or the client goes.
func (s *StandIn) hold(w http.ResponseWriter, r *http.Request) {
	timeout := 30 * time.Minute
	if v, err := strconv.Atoi(r.URL.Query().Get("timeoutSeconds")); err == nil && v > 0 {
		timeout = time.Duration(v) * time.Second
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	began := time.Now()
	select {
	case <-r.Context().Done():
		s.log.Debug("watch ended by the client", "path", r.URL.Path, "after", time.Since(began), "timeout", timeout)
	case <-t.C:
	}
}

// create answers a POST: a TokenRequest gets a token, a review is
// allowed, anything else is echoed as created.
func (s *StandIn) create(w http.ResponseWriter, r *http.Request, t target, kind string) {
	switch {
	case t.resource == "serviceaccounts" && t.sub == "token":
		var tr struct {
			Spec struct {
				ExpirationSeconds *int64 `json:"expirationSeconds"`
			} `json:"spec"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&tr)
		ttl := time.Hour
		if tr.Spec.ExpirationSeconds != nil {
			ttl = time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
		}
		writeJSON(w, http.StatusCreated, map[string]any{"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
			"metadata": map[string]string{"name": t.name, "namespace": t.namespace},
			"status": map[string]any{"token": "fleet-standin-token",
				"expirationTimestamp": time.Now().Add(ttl).UTC().Format(time.RFC3339)}})
	case t.resource == "subjectaccessreviews":
		writeJSON(w, http.StatusCreated, map[string]any{"kind": "SubjectAccessReview", "apiVersion": t.apiVersion(),
			"status": map[string]any{"allowed": true}})
	default:
		echo(w, r, http.StatusCreated, t, kind)
	}
}

// echo answers a write with the object written, stamped as stored.
func echo(w http.ResponseWriter, r *http.Request, code int, t target, kind string) {
	obj := map[string]any{}
	_ = json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&obj)
	obj["kind"], obj["apiVersion"] = kind, t.apiVersion()
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	if t.name != "" {
		meta["name"] = t.name
	}
	if t.namespace != "" {
		meta["namespace"] = t.namespace
	}
	meta["resourceVersion"] = "2"
	meta["uid"] = "00000000-0000-0000-0000-000000000001"
	obj["metadata"] = meta
	writeJSON(w, code, obj)
}

func notFound(w http.ResponseWriter, resource, name string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"reason": "NotFound", "code": 404, "message": fmt.Sprintf("%s %q not found", resource, name),
		"details": map[string]string{"name": name, "kind": resource}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// standInCert makes a CA and a serving certificate for 127.0.0.1 signed
// by it.
func standInCert() ([]byte, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleet stand-in CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fleet stand-in apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
