package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/idp"
)

// cliBrowserLogin: drover login at the OIDC provider "dex", its browser
// played by the test: the login comes back to the command on 127.0.0.1,
// or (--paste) the person pastes the code the page shows. Either way the
// browser never gets a session, and the command logs in as the Dex user.
func cliBrowserLogin(ctx context.Context, t *testing.T, dex *idp.Dex) {
	srv := shared.server
	loginURL := regexp.MustCompile(`https://\S+/v3/login/` + oidcProvider + `/browser\?claim=\S+`)
	for _, paste := range []bool{false, true} {
		name := "loopback"
		if paste {
			name = "paste"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"--config-dir", dir, "login", srv.URL, "--ca-checksum", srv.CAChecksum, "--provider", oidcProvider, "--no-browser"}
			if paste {
				args = append(args, "--paste")
			}
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			cmd := exec.CommandContext(cctx, shared.bins.CLI, args...)
			stdin, _ := cmd.StdinPipe()
			stderr, _ := cmd.StderrPipe()
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The URL the person is asked to open.
			var said strings.Builder
			sc := bufio.NewScanner(stderr)
			start := ""
			for start == "" && sc.Scan() {
				said.WriteString(sc.Text() + "\n")
				start = loginURL.FindString(sc.Text())
			}
			if start == "" {
				cmd.Wait()
				t.Fatalf("drover login printed no login URL:\n%s", said.String())
			}
			go io.Copy(io.Discard, stderr)
			page, err := dex.Browse(cctx, start, srv.CAPEM, idp.DexLDAPConnector, idp.Alice.UID, idp.Alice.Password)
			if err != nil {
				t.Fatalf("the browser: %v", err)
			}
			if bytes.Contains(page.Body, []byte(`"token"`)) {
				t.Errorf("the browser was given a session:\n%s", page.Body)
			}
			if paste {
				m := regexp.MustCompile(`<pre[^>]*>([A-Za-z0-9_-]+)</pre>`).FindSubmatch(page.Body)
				if page.Status != 200 || m == nil {
					t.Fatalf("the page at %v: %d\n%s", page.URL, page.Status, page.Body)
				}
				io.WriteString(stdin, string(m[1])+"\n")
			} else if page.URL.Hostname() != "127.0.0.1" || !bytes.Contains(page.Body, []byte("Logged in")) {
				t.Fatalf("the browser ended at %v (%d), not at the command:\n%s", page.URL, page.Status, page.Body)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("drover login: %v\n%s", err, stdout.String())
			}
			if want := "as " + oidcProvider + ":" + idp.Alice.Mail; !strings.Contains(stdout.String(), want) {
				t.Errorf("drover login said %q; want %q", stdout.String(), want)
			}
			code, out, errs := runBinary(t, shared.bins.CLI, "", "--config-dir", dir, "whoami")
			if code != 0 || !strings.Contains(out, oidcProvider+":"+idp.Alice.Mail) {
				t.Errorf("whoami after the browser login: exit %d\n%s%s", code, out, errs)
			}
		})
	}
}
