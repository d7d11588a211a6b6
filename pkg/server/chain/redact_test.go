package chain_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/authproxy"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/server/chain"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// syncBuffer is a bytes.Buffer the server's goroutines may write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogsRedactTokensInPaths sends requests whose path holds a
// registration token, spelled every way the router lets through, with
// every method and a wrong bearer or none, to the whole handler chain, and
// checks that neither the server's log nor the audit log shows the
// token's secret.
func TestLogsRedactTokensInPaths(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs, auditLog syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	auth := authn.New(authn.Options{Store: st, Logger: log})
	t.Cleanup(auth.Wait)
	tun := tunnel.New(tunnel.Options{Store: st, Logger: log})
	checker := access.NewChecker(access.CheckerOptions{Store: st})
	a := api.New(api.Options{Store: st, Tokens: auth, Tunnel: tun, Reach: checker, CAPEM: []byte("CA"), CASum: "sum",
		ServerURL: "https://drover.test", Logger: log, SessionTTL: time.Hour, KubeconfigTTL: time.Hour, MaxTokenTTL: 2 * time.Hour})
	h := chain.NewHandler(chain.Handlers{Logger: log, Audit: audit.New(&auditLog, audit.LevelAll), Auth: auth, Access: checker,
		Connect: tun, Proxy: authproxy.New(authproxy.Options{Sessions: tun, Logger: log}), API: a})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	tok, err := token.New(ids.Registration)
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"/v3/import/" + tok.String() + ".yaml",
		"/v3/import/" + tok.String(),
		"//v3/import/" + tok.String() + ".yaml",
		"/v3//import/" + tok.String() + ".yaml",
		"/v3/./import/" + tok.String() + ".yaml",
		"/v3/x/../import/" + tok.String() + ".yaml",
		"/v3/tokens/" + tok.String(),
		"/k8s/clusters/c-abc12/api/v1/namespaces/" + tok.String(),
		"/nowhere/" + tok.String() + ".yaml",
	}
	for _, p := range paths {
		for _, method := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "BREW"} {
			for _, bearer := range []string{"", "t-wrongwrong:" + tok.Secret[:10], tok.String()} {
				req, err := http.NewRequest(method, srv.URL+p, nil)
				if err != nil {
					t.Fatal(err)
				}
				if bearer != "" {
					req.Header.Set("Authorization", "Bearer "+bearer)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
		}
	}
	if auditLog.String() == "" || !strings.Contains(logs.String(), "authentication failed") {
		t.Fatalf("nothing was logged (the test proves nothing): server log %q, audit log %q", logs.String(), auditLog.String())
	}
	for what, out := range map[string]string{"server log": logs.String(), "audit log": auditLog.String()} {
		if strings.Contains(out, tok.Secret) {
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, tok.Secret) {
					t.Errorf("the %s shows the token: %s", what, line)
				}
			}
		}
	}
}
