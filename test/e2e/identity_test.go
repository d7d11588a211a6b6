package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

// TestServerRenamed: a server given a new name (--server-url and
// --hostnames) issues its serving certificate anew from the same CA,
// keeping the names it had: its agent reconnects without a restart or a
// new checksum, its login sessions go on, and the new name verifies
// against the CA every client already has.
func TestServerRenamed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	own := startOwnServer(ctx, t, t.TempDir(), "renamed")
	srv, admin, id, reg := own.srv, own.admin, own.id, own.reg

	srv.Stop(10 * time.Second)
	_, port, _ := strings.Cut(srv.Listen, ":")
	renamed, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: srv.DataDir, Listen: srv.Listen,
		Args: []string{"--server-url", "https://drover.renamed.test:" + port, "--hostnames", "drover.renamed.test"}})
	if err != nil {
		t.Fatal(err)
	}
	own.srv = renamed
	if renamed.CAChecksum != reg.CAChecksum {
		t.Fatalf("the CA changed: %s, was %s", renamed.CAChecksum, reg.CAChecksum)
	}
	if b := readFile(t, renamed.LogPath); !strings.Contains(b, "serving certificate issued anew") {
		t.Error("the server did not say it issued its certificate anew")
	}
	// The agent (still at the old address) and the login session.
	if err := renamed.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		t.Fatalf("the agent after the rename: %v", err)
	}
	// The new name verifies against the CA the clients pinned.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(renamed.CAPEM)
	for _, name := range []string{"drover.renamed.test", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", renamed.Listen, &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Errorf("TLS as %s: %v", name, err)
			continue
		}
		conn.Close()
	}
	if err := renamed.Do(ctx, http.MethodGet, "/v3/users/me", admin, nil, nil); err != nil {
		t.Errorf("the login session after the rename: %v", err)
	}
}
