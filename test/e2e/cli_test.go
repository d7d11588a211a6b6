package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/cli"
)

// TestCLILogin runs the drover command against the real server: the first
// login pins the server's CA by checksum (none, or a wrong one, is refused
// before a password is sent), the session is kept in a 0600 file without
// the password, later logins use the pin, and logout ends the session on
// the server.
func TestCLILogin(t *testing.T) {
	srv := shared.server
	dir := filepath.Join(t.TempDir(), "drover")
	drover := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return runBinary(t, shared.bins.CLI, stdin, append([]string{"--config-dir", dir}, args...)...)
	}
	password := srv.AdminPassword + "\n"
	otherSum := strings.Repeat("ab", 32)

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"first login without the CA checksum", []string{"login", srv.URL, "--username", "admin", "--password-stdin"}, "needs its CA checksum"},
		{"first login with another CA's checksum", []string{"login", srv.URL, "--ca-checksum", otherSum, "--username", "admin", "--password-stdin"}, "does not match"},
		{"a server URL with a path", []string{"login", srv.URL + "/k8s/clusters/x", "--ca-checksum", srv.CAChecksum, "--username", "admin", "--password-stdin"}, "without a path"},
		{"a plain http URL", []string{"login", "http://" + strings.TrimPrefix(srv.URL, "https://"), "--ca-checksum", srv.CAChecksum, "--username", "admin", "--password-stdin"}, "only https"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := drover(password, c.args...)
			if code == 0 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want a failure saying %q", code, stderr, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
				t.Fatal("a refused login wrote the config")
			}
		})
	}

	code, stdout, stderr := drover(password, "login", srv.URL, "--ca-checksum", strings.ToUpper(srv.CAChecksum), "--username", "admin", "--password-stdin")
	if code != 0 || !strings.Contains(stdout, "Logged in to "+srv.URL+" as admin") {
		t.Fatalf("login: exit %d\n%s%s", code, stdout, stderr)
	}
	path := filepath.Join(dir, "config.json")
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v; want %04o", p, err, fi.Mode().Perm(), want)
		}
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), srv.AdminPassword) {
		t.Error("the config file holds the password")
	}
	cfg, err := cli.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	first := cfg.Servers[srv.URL]
	if first == nil || first.CA != string(srv.CAPEM) || first.Session == "" || cfg.Current != srv.URL {
		t.Fatalf("config after login: %+v", cfg)
	}

	code, stdout, stderr = drover("", "whoami", "-o", "json")
	var m struct {
		Username string `json:"username"`
		Admin    bool   `json:"admin"`
		TokenID  string `json:"tokenId"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &m) != nil {
		t.Fatalf("whoami: exit %d\n%s%s", code, stdout, stderr)
	}
	if diff := cmp.Diff(struct {
		Username string
		Admin    bool
		TokenID  string
	}{"admin", true, first.SessionID}, struct {
		Username string
		Admin    bool
		TokenID  string
	}{m.Username, m.Admin, m.TokenID}); diff != "" {
		t.Errorf("whoami (-want +got):\n%s", diff)
	}

	t.Run("a wrong password keeps the session", func(t *testing.T) {
		code, _, stderr := drover("not-the-password\n", "login", "--username", "admin", "--password-stdin")
		if code != 1 || !strings.Contains(stderr, "wrong username or password") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if code, _, stderr := drover("", "whoami"); code != 0 {
			t.Fatalf("whoami after a failed login: exit %d: %s", code, stderr)
		}
	})

	// Again, to the pinned server: no checksum needed, a new session.
	code, _, stderr = drover(password, "login", "--username", "admin", "--password-stdin")
	if code != 0 {
		t.Fatalf("second login: exit %d: %s", code, stderr)
	}
	cfg, _ = cli.Load(dir)
	second := cfg.Servers[srv.URL]
	if second.SessionID == first.SessionID {
		t.Error("the second login kept the first session")
	}

	code, stdout, stderr = drover("", "logout")
	if code != 0 || !strings.Contains(stdout, "Logged out of "+srv.URL) {
		t.Fatalf("logout: exit %d\n%s%s", code, stdout, stderr)
	}
	if err := srv.Do(t.Context(), http.MethodGet, "/v3/users/me", second.Session, nil, nil); err == nil {
		t.Error("the server still takes the session after logout")
	}
	if code, _, stderr := drover("", "whoami"); code != 1 || !strings.Contains(stderr, "not logged in") {
		t.Errorf("whoami after logout: exit %d, stderr %q", code, stderr)
	}

	t.Run("a config others may read is refused", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := drover("", "whoami")
		if code != 1 || !strings.Contains(stderr, "chmod 600") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
}
