package realnodes

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drover-dev/drover/test/browser"
	"github.com/drover-dev/drover/test/harness"
)

// testConsoleShell: in the web console, in a real Chromium, a user opens a
// shell into a pod of this cluster (xterm.js over the exec websocket,
// through Drover's proxy as that user), runs commands and sees their
// output and exit code; the cluster's RBAC decides, so a read-only user's
// shell is refused by the apiserver; and a ticket serves one shell only.
func testConsoleShell(t *testing.T, kc, id string) {
	browser.RequireChromium(t)
	browser.RequireConsole(t)
	browser.RequireAxe(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	e := shared
	pod := webPod(ctx, t, kc)
	const admin, adminPassword = "shell-admin", "shell-admin-password-1"
	const viewer, viewerPassword = "shell-viewer", "shell-viewer-password-1"
	if err := e.Server.CreateUser(ctx, e.Admin, admin, adminPassword, true); err != nil {
		t.Fatal(err)
	}
	if err := e.Server.CreateUser(ctx, e.Admin, viewer, viewerPassword, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Server.CreateBinding(ctx, e.Admin, harness.Binding{Scope: "cluster", ClusterID: id,
		Role: "read-only", SubjectKind: "user", Subject: viewer}); err != nil {
		t.Fatal(err)
	}
	b, err := browser.Start(ctx, browser.Options{CAPEM: e.Server.CAPEM, Dir: filepath.Join(t.TempDir(), "browser")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		if left := b.Leftovers(); len(left) > 0 {
			t.Errorf("browser processes left: %v", left)
		}
	})

	// open logs user in (a page of its own: its own cookies), opens the
	// cluster's page and asks for a shell into the web pod.
	open := func(t *testing.T, user, password string) *browser.Page {
		p := b.PageT(t)
		t.Cleanup(func() { shot(t, p) })
		if err := p.ConsoleLogin(ctx, e.Server.URL, user, password); err != nil {
			t.Fatal(err)
		}
		if err := p.Navigate(ctx, e.Server.URL+"/#/clusters/"+id); err != nil {
			t.Fatal(err)
		}
		waitPage(ctx, t, p, "the shell form", `!!document.querySelector('#shell-pod')`)
		for sel, v := range map[string]string{"#shell-namespace": "work", "#shell-pod": pod, "#shell-command": "sh"} {
			if err := p.Fill(ctx, sel, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Do(ctx, chromedp.Click(chromedp.CSS("#shell-open"))); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("admin runs commands", func(t *testing.T) {
		from := serverLogSize(t)
		p := open(t, admin, adminPassword)
		waitPage(ctx, t, p, "the shell connected", `/^Connected/.test(document.querySelector('#shell-status')?.textContent ?? '')`)
		// What only the shell's evaluation prints, so the terminal's echo
		// of the typed line cannot satisfy the wait.
		typeInto(ctx, t, p, "echo hi-$((6*7)) on $(hostname)\r")
		waitPage(ctx, t, p, "the command's output", `(document.querySelector('#shell-terminal .xterm-rows')?.textContent ?? '').includes('hi-42 on `+pod+`')`)
		// The terminal is the page's: axe finds nothing serious with it open.
		if v, err := p.Axe(ctx); err != nil || len(v) > 0 {
			t.Errorf("axe with the terminal open: %v %v", v, err)
		}
		typeInto(ctx, t, p, "exit 3\r")
		waitPage(ctx, t, p, "the exit code", `/exit code 3/.test(document.querySelector('#shell-status')?.textContent ?? '')`)
		// It was one exec through the proxy, over WebSocket, accepted.
		execsSeen(t, from, 101)
	})

	t.Run("read-only user refused by the cluster", func(t *testing.T) {
		from := serverLogSize(t)
		p := open(t, viewer, viewerPassword)
		waitPage(ctx, t, p, "the shell refused", `/^Ended|could not/i.test(document.querySelector('#shell-status')?.textContent ?? '')`)
		status := statusText(ctx, t, p)
		if strings.HasPrefix(status, "Connected") {
			t.Fatalf("a read-only user's shell: %q", status)
		}
		t.Logf("read-only user's shell: %q", status)
		// Drover issued the ticket and forwarded the exec as the user; the
		// apiserver's RBAC refused it.
		execsSeen(t, from, 403)
	})
}

// execsSeen checks the server's debug lines since offset from: exactly
// one exec in namespace work, a WebSocket upgrade the cluster answered
// with code.
func execsSeen(t *testing.T, from int64, code int) {
	t.Helper()
	var execs []proxiedLine
	for _, rec := range proxiedSince(t, from) {
		if rec.Namespace == "work" && rec.Subresource == "exec" {
			execs = append(execs, rec)
		}
	}
	if len(execs) != 1 || execs[0].Upgrade != "websocket" || execs[0].Code != code {
		t.Errorf("execs proxied: %+v, want one websocket upgrade answered %d", execs, code)
	}
}

// typeInto types keys into the focused terminal (xterm's textarea).
func typeInto(ctx context.Context, t *testing.T, p *browser.Page, keys string) {
	t.Helper()
	if err := p.Do(ctx, chromedp.SendKeys(chromedp.CSS("#shell-terminal textarea"), keys)); err != nil {
		t.Fatalf("type %q into the terminal: %v (status %q)", keys, err, statusText(ctx, t, p))
	}
}

func statusText(ctx context.Context, t *testing.T, p *browser.Page) string {
	s, _ := browser.Eval[string](ctx, p, `document.querySelector('#shell-status')?.textContent ?? ''`)
	return s
}

// waitPage waits for expr in p, or fails t with the shell's status and
// the terminal's text.
func waitPage(ctx context.Context, t *testing.T, p *browser.Page, what, expr string) {
	t.Helper()
	if err := p.WaitJS(ctx, expr); err != nil {
		term, _ := browser.Eval[string](ctx, p, `document.querySelector('#shell-terminal .xterm-rows')?.textContent ?? ''`)
		b, _ := json.Marshal(term)
		t.Fatalf("%s: %v (status %q, terminal %s, network errors %v)", what, err, statusText(ctx, t, p), b, p.NetworkErrors())
	}
}

// shot leaves a screenshot of p in the test's log when t failed.
func shot(t *testing.T, p *browser.Page) {
	if !t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := filepath.Join(shared.Dir, "screenshots")
	if path, err := p.Screenshot(ctx, dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())); err == nil {
		t.Logf("screenshot: %s", path)
	}
}
