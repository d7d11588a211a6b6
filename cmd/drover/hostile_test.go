package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/cli"
	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/pki"
)

// attackServer is a Drover server (httptest's TLS cert for 127.0.0.1):
// /cacerts, /v3/login (a new token each time, or loginStatus), /v3/logout
// (counted).
type attackServer struct {
	*httptest.Server
	caPEM       []byte
	logins      atomic.Int32
	logouts     atomic.Int32
	loginStatus *metav1.Status
}

func newAttackServer(t *testing.T) *attackServer {
	t.Helper()
	a := &attackServer{}
	a.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cacerts":
			w.Write(a.caPEM)
		case "/v3/login":
			if a.loginStatus != nil {
				w.WriteHeader(int(a.loginStatus.Code))
				json.NewEncoder(w).Encode(a.loginStatus)
				return
			}
			n := a.logins.Add(1)
			json.NewEncoder(w).Encode(map[string]any{"token": "tok-" + string(rune('0'+n)), "id": "s", "expiresAt": time.Now().Add(time.Hour)})
		case "/v3/logout":
			a.logouts.Add(1)
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	a.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Certificate().Raw})
	t.Cleanup(a.Close)
	return a
}

func run(t *testing.T, dir, stdin string, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cmdline.Execute(context.Background(), newCommand(strings.NewReader(stdin)), append([]string{"--config-dir", dir}, args...), &out, &errb)
	return code, out.String() + errb.String()
}

// TestAttackForgetAfterLogout (a red-team finding, now fixed: the test keeps it so) was: once logged out, a server cannot be
// forgotten: logout --forget looks the server up as a session and refuses
// ("not logged in"). After a CA rotation the user is sent in a circle:
// login says "drover logout --forget and log in again", logout --forget
// says "run drover login". Only editing config.json by hand gets out.
func TestAttackForgetAfterLogout(t *testing.T) {
	srv := newAttackServer(t)
	dir := t.TempDir()
	sum := checksum.Of(srv.caPEM)
	if code, msg := run(t, dir, "pw\n", "login", srv.URL, "--ca-checksum", sum, "--username", "ann", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s", code, msg)
	}
	if code, msg := run(t, dir, "", "logout"); code != 0 {
		t.Fatalf("logout: %d %s", code, msg)
	}
	// The administrator rotates the CA: what is pinned is not what the
	// server serves any more.
	cfg, err := cli.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := cli.NormalizeURL(srv.URL)
	old, err := pki.Generate([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Servers[key].CA = string(old.CACert)
	if err := cfg.Save(dir); err != nil {
		t.Fatal(err)
	}
	code, msg := run(t, dir, "pw\n", "login", srv.URL, "--ca-checksum", sum, "--username", "ann", "--password-stdin")
	if code == 0 || !strings.Contains(msg, "logout --forget") {
		t.Fatalf("login after a rotation: %d %s; want the advice to run logout --forget", code, msg)
	}
	if code, msg := run(t, dir, "", "logout", "--server", srv.URL, "--forget"); code != 0 {
		t.Errorf("following that advice: drover logout --forget = %d %q; want the server forgotten", code, msg)
	}
}

// TestAttackServerTextToTerminal (a red-team finding, now fixed: the test keeps it so) was: a server's Status message is printed as
// is; control sequences in it (set the title, clear the screen, rewrite the
// line) reach the user's terminal.
func TestAttackServerTextToTerminal(t *testing.T) {
	srv := newAttackServer(t)
	srv.loginStatus = &metav1.Status{Status: metav1.StatusFailure, Code: 401,
		Message: "bad password\x1b]2;pwned\x07\x1b[2K\rLogged in to https://drover.example as admin."}
	code, msg := run(t, t.TempDir(), "pw\n", "login", srv.URL, "--ca-checksum", checksum.Of(srv.caPEM), "--username", "ann", "--password-stdin")
	if code == 0 || strings.ContainsRune(msg, 0x1b) {
		t.Errorf("login = %d, the terminal got %q; want control characters escaped", code, msg)
	}
}

// TestAttackReloginLeavesSession (a red-team finding, now fixed: the test keeps it so) was: logging in again (to the same server)
// overwrites the kept session without ending it on the server: it stays
// valid until it expires, known to no one.
func TestAttackReloginLeavesSession(t *testing.T) {
	srv := newAttackServer(t)
	dir := t.TempDir()
	args := []string{"login", srv.URL, "--ca-checksum", checksum.Of(srv.caPEM), "--username", "ann", "--password-stdin"}
	for range 2 {
		if code, msg := run(t, dir, "pw\n", args...); code != 0 {
			t.Fatalf("login: %d %s", code, msg)
		}
	}
	if srv.logouts.Load() != 1 {
		t.Errorf("two logins, %d sessions ended on the server; want the first one ended", srv.logouts.Load())
	}
}

// TestAttackForgetOtherDropsCurrent (a red-team finding, now fixed: the test keeps it so) was: logout --forget of the current server
// clears current even when another server's session is kept; whoami then
// says "not logged in to any server".
func TestAttackForgetOtherDropsCurrent(t *testing.T) {
	a, b := newAttackServer(t), newAttackServer(t)
	dir := t.TempDir()
	for _, s := range []*attackServer{a, b} {
		if code, msg := run(t, dir, "pw\n", "login", s.URL, "--ca-checksum", checksum.Of(s.caPEM), "--username", "ann", "--password-stdin"); code != 0 {
			t.Fatalf("login: %d %s", code, msg)
		}
	}
	if code, msg := run(t, dir, "", "logout", "--forget"); code != 0 {
		t.Fatalf("logout: %d %s", code, msg)
	}
	cfg, _ := cli.Load(filepath.Clean(dir))
	if cfg.Current == "" {
		t.Errorf("after forgetting the current server, current is empty while %d server(s) keep a session", len(cfg.Servers))
	}
}
