package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

// runBinary runs bin with args and stdin and returns its exit code, stdout
// and stderr.
func runBinary(t *testing.T, bin, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("%s %q: %v", bin, args, err)
	return 0, "", ""
}

// TestBinariesCommandLine runs the real binaries: --version says the
// version, commit and Go that built them; a stray word is exit 2 naming it,
// with the usage hint, and starts nothing.
func TestBinariesCommandLine(t *testing.T) {
	driverLocal := buildDriverLocal(t.Context(), t, t.TempDir())
	for _, b := range []struct{ name, bin string }{
		{"drover-server", shared.bins.Server}, {"drover-agent", shared.bins.Agent}, {"driver-local", driverLocal}, {"drover", shared.bins.CLI},
	} {
		t.Run(b.name+" --version", func(t *testing.T) {
			code, stdout, stderr := runBinary(t, b.bin, "", "--version")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], b.name+" version ") || !strings.HasPrefix(lines[1], "commit: ") ||
				lines[2] != "go: "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH {
				t.Errorf("--version:\n%s", stdout)
			}
		})
		t.Run(b.name+" version", func(t *testing.T) {
			code, stdout, stderr := runBinary(t, b.bin, "", "version")
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, `"version"`) || !strings.Contains(stderr, "--help' for usage.") {
				t.Errorf("stderr does not name the argument with a usage hint:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("printed to stdout: %q", stdout)
			}
		})
	}
}

// TestServerBusyPort starts the server on a port another process holds: it
// fails at once, names the address, and has neither made its data
// directory nor printed a password.
func TestServerBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := filepath.Join(t.TempDir(), "data")
	code, stdout, stderr := runBinary(t, shared.bins.Server, "", "--data-dir", dir, "--listen", busy.Addr().String())
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if want := "listen on " + busy.Addr().String() + ": "; !strings.Contains(stderr, want) || !strings.Contains(stderr, "address already in use") {
		t.Errorf("stderr does not say %q (address already in use):\n%s", want, stderr)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the data directory was made: %v", err)
	}
	if stdout != "" || strings.Contains(stderr, "password") {
		t.Errorf("printed before failing:\nstdout: %q\nstderr: %q", stdout, stderr)
	}
}

// TestAdminPasswordLifecycle: the first admin's password from a file
// (nothing printed), a self-service change, and the offline reset: refused
// while the server runs, then done on the stopped server's data directory,
// after which the new password logs in and the old sessions are gone.
func TestAdminPasswordLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file := filepath.Join(dir, "bootstrap-password")
	if err := os.WriteFile(file, []byte("from-a-mounted-secret\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	srv, err := harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: data,
		Args: []string{"--bootstrap-password-file", file, "--audit-format", "kubernetes"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(10 * time.Second)
	if srv.AdminPassword != "" {
		t.Errorf("a password was printed although it came from a file")
	}
	first, err := srv.Login(ctx, "admin", "from-a-mounted-secret")
	if err != nil {
		t.Fatalf("login with the file's password: %v", err)
	}
	if log := readFile(t, filepath.Join(data, "server.log")); strings.Contains(log, "from-a-mounted-secret") {
		t.Error("the password reached the server log")
	}

	// Self-service: the other session ends, the calling one stays.
	second, err := srv.Login(ctx, "admin", "from-a-mounted-secret")
	if err != nil {
		t.Fatal(err)
	}
	var changed struct{ Revoked int }
	if err := srv.Do(ctx, http.MethodPost, "/v3/users/me/password", first,
		map[string]string{"currentPassword": "from-a-mounted-secret", "newPassword": "changed-by-myself"}, &changed); err != nil {
		t.Fatalf("change own password: %v", err)
	}
	if changed.Revoked != 1 {
		t.Errorf("revoked %d, want 1 (the other session)", changed.Revoked)
	}
	expectStatus(ctx, t, srv, "the calling session", first, http.StatusOK)
	expectStatus(ctx, t, srv, "the other session", second, http.StatusUnauthorized)

	// Offline reset: refused while the server holds the directory.
	code, stdout, stderr := runBinary(t, shared.bins.Server, "reset-by-the-operator\n",
		"reset-admin-password", "--data-dir", data, "--password-stdin")
	if code != 1 || !strings.Contains(stderr, "data directory in use: process ") || !strings.Contains(stderr, "stop the server first") {
		t.Errorf("reset while the server runs: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := srv.Login(ctx, "admin", "changed-by-myself"); err != nil {
		t.Errorf("the refused reset changed the password: %v", err)
	}
	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runBinary(t, shared.bins.Server, "reset-by-the-operator\n",
		"reset-admin-password", "--data-dir", data, "--password-stdin")
	if code != 0 {
		t.Fatalf("reset: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	// The calling session of the change and the check after the refusal.
	if want := "The password of admin \"admin\" is reset; 2 of its login sessions ended.\n"; stdout != want {
		t.Errorf("reset said %q, want %q", stdout, want)
	}
	if strings.Contains(stdout+stderr, "reset-by-the-operator") {
		t.Error("the reset printed the password")
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	token, err := srv.Login(ctx, "admin", "reset-by-the-operator")
	if err != nil {
		t.Fatalf("login with the reset password: %v", err)
	}
	expectStatus(ctx, t, srv, "the new session", token, http.StatusOK)
	expectStatus(ctx, t, srv, "the session from before the reset", first, http.StatusUnauthorized)
	var apiErr *harness.APIError
	if _, err := srv.Login(ctx, "admin", "changed-by-myself"); !errors.As(err, &apiErr) || apiErr.Code != http.StatusUnauthorized {
		t.Errorf("login with the old password: %v, want 401", err)
	}
	checkAuditLog(t, filepath.Join(data, "audit.log"), "from-a-mounted-secret", "changed-by-myself", "reset-by-the-operator")
}

// checkAuditLog: the audit log is on by default, in the data directory,
// 0600; asked for the Kubernetes format, every line is an audit.k8s.io/v1
// Event, the logins (200 and 401) and the password change among them; no
// secret in it.
func checkAuditLog(t *testing.T, path string, secrets ...string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no audit log in the data directory: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v, want 0600", info.Mode().Perm())
	}
	text := readFile(t, path)
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("a password is in the audit log")
		}
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		var ev struct {
			APIVersion, Kind, Level, Stage, Verb string
			RequestURI                           string `json:"requestURI"`
			ResponseStatus                       struct{ Code int }
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.APIVersion != "audit.k8s.io/v1" || ev.Kind != "Event" || ev.Level != "Metadata" {
			t.Fatalf("not an audit.k8s.io/v1 Event at level Metadata: %s (%v)", line, err)
		}
		seen[fmt.Sprintf("%s %s %d", ev.Verb, ev.RequestURI, ev.ResponseStatus.Code)] = true
	}
	for _, want := range []string{"post /v3/login 200", "post /v3/login 401", "post /v3/users/me/password 200"} {
		if !seen[want] {
			t.Errorf("no audit event %q", want)
		}
	}
}

// expectStatus checks what GET /v3/users/me answers bearer.
func expectStatus(ctx context.Context, t *testing.T, srv *harness.Server, what, bearer string, want int) {
	t.Helper()
	err := srv.Do(ctx, http.MethodGet, "/v3/users/me", bearer, nil, nil)
	var apiErr *harness.APIError
	got := http.StatusOK
	if errors.As(err, &apiErr) {
		got = apiErr.Code
	} else if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got != want {
		t.Errorf("%s: GET /v3/users/me answered %d, want %d", what, got, want)
	}
}
