package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drover-dev/drover/test/browser"
	"github.com/drover-dev/drover/test/harness"
)

// What the tests do in a page, as a person would: every step waits for
// what it needs (a selector, a condition) within the context's deadline,
// and fails the test with what the page showed instead.

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always encodes
	}
	return string(b)
}

// query is a JavaScript expression for the first element sel matches.
func query(sel string) string { return "document.querySelector(" + jsString(sel) + ")" }

// waitJS waits until expr is truthy in p.
func waitJS(ctx context.Context, t *testing.T, p *browser.Page, what, expr string) {
	t.Helper()
	if err := p.WaitJS(ctx, expr); err != nil {
		t.Fatalf("%s: %v (%s)", what, err, pageSays(p))
	}
}

// pageSays is what the page shows as errors and where it is, for a failure
// message.
func pageSays(p *browser.Page) string {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := browser.Eval[string](ctx, p, `location.hash + ' ' + JSON.stringify(Array.from(document.querySelectorAll('[role=alert]')).map(e => e.textContent.trim()).filter(Boolean))`)
	if err != nil {
		return "the page did not answer: " + err.Error()
	}
	return "page at " + s
}

// eval evaluates expr in p.
func eval[T any](ctx context.Context, t *testing.T, p *browser.Page, expr string) T {
	t.Helper()
	v, err := browser.Eval[T](ctx, p, expr)
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the trimmed text of the first element sel matches ("" when none).
func text(ctx context.Context, t *testing.T, p *browser.Page, sel string) string {
	t.Helper()
	return eval[string](ctx, t, p, query(sel)+`?.textContent.trim() ?? ''`)
}

// click clicks the first element sel matches once it is visible.
func click(ctx context.Context, t *testing.T, p *browser.Page, sel string) {
	t.Helper()
	if err := p.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v (%s)", sel, err, pageSays(p))
	}
}

// fill types value into the input sel after clearing it.
func fill(ctx context.Context, t *testing.T, p *browser.Page, sel, value string) {
	t.Helper()
	if err := p.Fill(ctx, sel, value); err != nil {
		t.Fatalf("type into %s: %v", sel, err)
	}
	if got := eval[string](ctx, t, p, query(sel)+`.value`); got != value {
		t.Fatalf("%s holds %q after typing %q", sel, got, value)
	}
}

// choose picks the option whose value is value in the select sel, as a
// person choosing it would (the change event).
func choose(ctx context.Context, t *testing.T, p *browser.Page, sel, value string) {
	t.Helper()
	ok := eval[bool](ctx, t, p, `(() => {
		const s = `+query(sel)+`;
		if (!s || !Array.from(s.options).some(o => o.value === `+jsString(value)+`)) return false;
		s.focus();
		s.value = `+jsString(value)+`;
		s.dispatchEvent(new Event('input', {bubbles: true}));
		s.dispatchEvent(new Event('change', {bubbles: true}));
		return true;
	})()`)
	if !ok {
		opts := eval[string](ctx, t, p, `JSON.stringify(Array.from(`+query(sel)+`?.options ?? []).map(o => o.value))`)
		t.Fatalf("%s has no option %q (options %s)", sel, value, opts)
	}
	waitJS(ctx, t, p, sel+" = "+value, query(sel)+`.value === `+jsString(value))
}

// goTo follows a link of the console to route ("#/tokens") without
// reloading, and waits until ready (a JavaScript condition) holds.
func goTo(ctx context.Context, t *testing.T, p *browser.Page, route, ready string) {
	t.Helper()
	if err := p.Do(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString(route))); err != nil {
		t.Fatalf("go to %s: %v", route, err)
	}
	waitJS(ctx, t, p, route+" ready", `location.hash === `+jsString(route)+` && !Array.from(document.querySelectorAll('main [role=status]')).some(e => e.textContent.trim().startsWith('Loading')) && (`+ready+`)`)
}

// load loads route into p afresh (a new document: no state of the page
// survives, the cookie does) and waits until ready holds.
func (f *fixture) load(ctx context.Context, t *testing.T, p *browser.Page, route, ready string) {
	t.Helper()
	if err := p.Navigate(ctx, "about:blank"); err != nil {
		t.Fatal(err)
	}
	if err := p.Navigate(ctx, f.url(route)); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, p, route+" loaded", ready)
}

// loginPage signs in through #/login with the local provider and waits for
// the clusters page.
func (f *fixture) loginPage(ctx context.Context, p *browser.Page, user, password string) error {
	return p.ConsoleLogin(ctx, f.server.URL, user, password)
}

// login is loginPage for a test.
func (f *fixture) login(ctx context.Context, t *testing.T, p *browser.Page, user, password string) {
	t.Helper()
	if err := f.loginPage(ctx, p, user, password); err != nil {
		t.Fatal(err)
	}
}

// kubectl runs the machine's kubectl with a kubeconfig (and a HOME of the
// fixture's, for its discovery cache).
func (f *fixture) kubectl(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig, "--request-timeout", "10s"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(f.dir, "kubectl-home")}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// eventually retries check until it returns nil or ctx ends (for what
// Drover applies asynchronously downstream: RBAC after a binding); it
// returns the last error.
func eventually(ctx context.Context, every time.Duration, check func() error) error {
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (until %w)", err, ctx.Err())
		case <-time.After(every):
		}
	}
}

// bearerStatus is the status of GET path with a bearer token, through a
// client that trusts the server's CA.
func (f *fixture) bearerStatus(ctx context.Context, path, token string) (int, error) {
	err := f.server.Do(ctx, http.MethodGet, path, token, nil, nil)
	if err == nil {
		return http.StatusOK, nil
	}
	var apiErr *harness.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code, nil
	}
	return 0, err
}
