package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/postgres"
)

// TestCopyToPostgres moves a server with a connected cluster agent, a
// user's kubeconfig and a login session from its SQLite store to a real
// PostgreSQL: stop, copy-to-postgres, start on the same data directory
// and address with --database-url. Nobody notices: the agent reconnects
// by itself, the kubeconfig and the session work, no new admin password
// is printed, and the server writes to the new store.
func TestCopyToPostgres(t *testing.T) {
	t.Parallel() // with the replica tests: its own server and database
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	pg := postgres.StartT(t)
	db := pg.NewDatabaseT(t)
	pwFile := filepath.Join(dir, "db-password")
	writeFile(t, pwFile, []byte(pg.Password+"\n"))
	dbArgs := []string{"--database-url", pg.URL(db), "--database-password-file", pwFile}

	own := startOwnServer(ctx, t, dir, "to-postgres")
	srv, admin, id, reg := own.srv, own.admin, own.id, own.reg
	kc, err := srv.Kubeconfig(ctx, admin, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(dir, "kubeconfig")
	writeFile(t, kcPath, kc)
	if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default"); err != nil {
		t.Fatal(err)
	}

	// While the server runs, the copy refuses and changes nothing.
	copyArgs := append([]string{"copy-to-postgres", "--data-dir", srv.DataDir}, dbArgs...)
	if code, out, errs := runBinary(t, shared.bins.Server, "", copyArgs...); code == 0 || !strings.Contains(errs, "stop the server first") {
		t.Fatalf("copy from a running server: exit %d\n%s%s", code, out, errs)
	}
	srv.Stop(10 * time.Second)
	code, out, errs := runBinary(t, shared.bins.Server, "", copyArgs...)
	if code != 0 || !strings.Contains(out, "Copied") {
		t.Fatalf("copy-to-postgres: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("copy-to-postgres:\n%s", out)
	if _, err := os.Stat(filepath.Join(srv.DataDir, "drover.db")); !os.IsNotExist(err) {
		t.Errorf("the SQLite store is still in place: %v", err)
	}
	if code, _, errs := runBinary(t, shared.bins.Server, "", copyArgs...); code == 0 || !strings.Contains(errs, "copied already") {
		t.Errorf("a second copy: exit %d, %s", code, errs)
	}

	conn, err := pg.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	kubeconfigTokens := func() (ids string) {
		if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(id, ',' ORDER BY id), '') FROM tokens WHERE kind = 'kubeconfig'`).Scan(&ids); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	copied := kubeconfigTokens()
	if copied == "" {
		t.Fatal("no kubeconfig token was copied")
	}

	moved, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: srv.DataDir, Listen: srv.Listen, Args: dbArgs})
	if err != nil {
		t.Fatal(err)
	}
	own.srv = moved // stopped at the test's end
	if moved.AdminPassword != "" || moved.CAChecksum != reg.CAChecksum {
		t.Errorf("the server on PostgreSQL: a new admin password %v, CA checksum %s (want %s)", moved.AdminPassword != "", moved.CAChecksum, reg.CAChecksum)
	}
	if err := moved.WaitConnected(ctx, admin, id, "cluster"); err != nil {
		t.Fatalf("the agent against the server on PostgreSQL: %v", err)
	}
	if _, err := kubectl(ctx, t, kcPath, "get", "ns", "default"); err != nil {
		t.Fatalf("the old kubeconfig: %v", err)
	}
	if err := moved.Do(ctx, http.MethodGet, "/v3/users/me", admin, nil, nil); err != nil {
		t.Errorf("the old login session: %v", err)
	}
	// It writes to PostgreSQL: a new kubeconfig's token (which replaces the
	// session's previous download) is there.
	kc2, err := moved.Kubeconfig(ctx, admin, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, kcPath+"-2", kc2)
	if _, err := kubectl(ctx, t, kcPath+"-2", "get", "ns", "default"); err != nil {
		t.Fatalf("a kubeconfig made on PostgreSQL: %v", err)
	}
	if now := kubeconfigTokens(); now == copied {
		t.Errorf("kubeconfig tokens in PostgreSQL: %s before and after a new download", now)
	}
	if _, err := os.Stat(filepath.Join(srv.DataDir, "drover.db")); !os.IsNotExist(err) {
		t.Errorf("the server on PostgreSQL made an SQLite store: %v", err)
	}
}
