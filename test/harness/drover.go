package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drover-dev/drover/pkg/checksum"
)

// ServerOptions configure StartServer.
type ServerOptions struct {
	Bin     string
	DataDir string // reused across restarts
	// Listen is host:port; empty picks a free loopback port.
	Listen string
	Args   []string
	// LogLevel defaults to debug; benchmarks pass info (the per-request
	// debug line costs about 45 µs of server CPU).
	LogLevel string
	// Credential runs the server as another user (needs root); nil: as
	// the caller.
	Credential *syscall.Credential
}

// Server is a running drover-server.
type Server struct {
	*Process
	URL        string
	Listen     string
	DataDir    string
	CAPEM      []byte
	CAChecksum string
	// AdminPassword is set on the first start of a data dir only.
	AdminPassword string
	opts          ServerOptions

	clientOnce sync.Once
	client     *http.Client
}

// FreeAddr returns a free 127.0.0.1 port.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// StartServer starts the server and waits until it serves.
func StartServer(ctx context.Context, opts ServerOptions) (*Server, error) {
	if opts.Listen == "" {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		opts.Listen = addr
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, err
	}
	level := opts.LogLevel
	if level == "" {
		level = "debug"
	}
	args := append([]string{"--data-dir", opts.DataDir, "--listen", opts.Listen, "--log-level", level}, opts.Args...)
	p, err := start("drover-server", opts.Bin, args, nil, filepath.Join(opts.DataDir, "server.log"), "", opts.Credential)
	if err != nil {
		return nil, err
	}
	s := &Server{Process: p, Listen: opts.Listen, DataDir: opts.DataDir, URL: "https://" + opts.Listen, opts: opts}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := p.WaitLine(ctx, "CA checksum:"); err != nil {
		p.Kill()
		return nil, err
	}
	p.mu.Lock()
	for _, l := range p.lines {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "password: "); ok {
			s.AdminPassword = v
		}
	}
	p.mu.Unlock()
	if s.CAPEM, err = os.ReadFile(filepath.Join(opts.DataDir, "tls", "ca.crt")); err != nil {
		p.Kill()
		return nil, err
	}
	s.CAChecksum = checksum.Of(s.CAPEM)
	return s, nil
}

// Stop stops the server's current process (see Process.Stop). It is a
// method of Server, not only of the embedded Process, so that
// `defer srv.Stop(…)` stops the process running when the test ends: the
// promoted method would bind the process running when the defer was
// written, and after a Restart leave the new one running.
func (s *Server) Stop(grace time.Duration) error { return s.Process.Stop(grace) }

// Args are the extra flags the server was started with
// (ServerOptions.Args), for starting another build in its place.
func (s *Server) Args() []string { return append([]string{}, s.opts.Args...) }

// Restart starts the server again on the same address and data dir.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop(10 * time.Second)
	n, err := StartServer(ctx, s.opts)
	if err != nil {
		return err
	}
	s.Process, s.AdminPassword, s.CAPEM, s.CAChecksum = n.Process, n.AdminPassword, n.CAPEM, n.CAChecksum
	return nil
}

// RestartWith restarts the server as Restart does, with args as its extra
// flags from now on (an upgrade: another --agent-image, say).
func (s *Server) RestartWith(ctx context.Context, args []string) error {
	s.opts.Args = append([]string{}, args...)
	return s.Restart(ctx)
}

// HTTPClient trusts the server's CA. It is made once per server, so API
// calls reuse connections instead of leaving one idle per call.
func (s *Server) HTTPClient() *http.Client {
	s.clientOnce.Do(func() {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.CAPEM)
		s.client = &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
		}
	})
	return s.client
}

// APIError is a non-2xx answer.
type APIError struct {
	Code int
	Body string
}

func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

// Do calls the API with a bearer token and decodes a JSON answer into out
// (raw bytes when out is *[]byte).
func (s *Server) Do(ctx context.Context, method, path, bearer string, in, out any) error {
	return s.DoHeader(ctx, method, path, bearer, nil, in, out)
}

// DoHeader is Do with extra request headers.
func (s *Server) DoHeader(ctx context.Context, method, path, bearer string, h http.Header, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Code: resp.StatusCode, Body: string(b)}
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// Login returns a session token.
func (s *Server) Login(ctx context.Context, user, password string) (string, error) {
	var out struct{ Token string }
	err := s.Do(ctx, http.MethodPost, "/v3/login", "", map[string]string{"username": user, "password": password}, &out)
	return out.Token, err
}

// Registration is the answer to creating a cluster.
type Registration struct {
	Token      string `json:"token"`
	NodeToken  string `json:"nodeToken"`
	CAChecksum string `json:"caChecksum"`
	ServerURL  string `json:"serverUrl"`
}

// CreateCluster creates a cluster and returns its id and registration.
func (s *Server) CreateCluster(ctx context.Context, bearer, name string) (string, Registration, error) {
	var out struct {
		Cluster      struct{ ID string }
		Registration Registration
	}
	err := s.Do(ctx, http.MethodPost, "/v3/clusters", bearer, map[string]string{"name": name}, &out)
	return out.Cluster.ID, out.Registration, err
}

// CreateUser creates a user (the bearer must be an admin's).
func (s *Server) CreateUser(ctx context.Context, bearer, name, password string, admin bool) error {
	return s.Do(ctx, http.MethodPost, "/v3/users", bearer,
		map[string]any{"username": name, "password": password, "admin": admin}, nil)
}

// Kubeconfig asks the server for a kubeconfig.
func (s *Server) Kubeconfig(ctx context.Context, bearer string, clusters []string, ttl string) ([]byte, error) {
	var b []byte
	err := s.Do(ctx, http.MethodPost, "/v3/kubeconfig", bearer, map[string]any{"clusters": clusters, "ttl": ttl}, &b)
	return b, err
}

// ClusterState is the part of a cluster's view tests look at.
type ClusterState struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Tunnel struct {
		Connected bool   `json:"connected"`
		Via       string `json:"via"`
	} `json:"tunnel"`
}

// WaitConnected polls until the cluster's tunnel is up (via the given kind,
// or any when empty).
func (s *Server) WaitConnected(ctx context.Context, bearer, clusterID, via string) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var last ClusterState
	var lastErr error
	for {
		lastErr = s.Do(ctx, http.MethodGet, "/v3/clusters/"+clusterID, bearer, nil, &last)
		if lastErr == nil && last.Tunnel.Connected && (via == "" || last.Tunnel.Via == via) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s not connected: last state %+v, err %v", clusterID, last, lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AgentOptions configure StartAgent.
type AgentOptions struct {
	Bin        string
	Dir        string // token file and log go here
	ServerURL  string
	CAChecksum string
	Token      string
	Kubeconfig string
	Kind       string
	NodeName   string
	Args       []string
}

// StartAgent starts an agent the way its Deployment does: environment
// variables and a mounted token file.
func StartAgent(opts AgentOptions) (*Process, error) {
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	name := "agent-" + opts.Kind
	if opts.NodeName != "" {
		name += "-" + opts.NodeName
	}
	tokenFile := filepath.Join(opts.Dir, name+".token")
	if err := os.WriteFile(tokenFile, []byte(opts.Token+"\n"), 0o600); err != nil {
		return nil, err
	}
	if opts.Kind == "" {
		return nil, errors.New("agent kind required")
	}
	env := []string{
		"CATTLE_SERVER=" + opts.ServerURL,
		"CATTLE_CA_CHECKSUM=" + opts.CAChecksum,
		"CATTLE_TOKEN_FILE=" + tokenFile,
		"CATTLE_AGENT_KIND=" + opts.Kind,
	}
	if opts.NodeName != "" {
		env = append(env, "CATTLE_NODE_NAME="+opts.NodeName)
	}
	args := append([]string{"--kubeconfig", opts.Kubeconfig, "--log-level", "debug"}, opts.Args...)
	return Start(name, opts.Bin, args, env, filepath.Join(opts.Dir, name+".log"))
}
