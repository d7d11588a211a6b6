package browser

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestBrowser proves the harness on static pages: the trust in the CA is
// real, and each recorder and check sees what it should, both ways.
func TestBrowser(t *testing.T) {
	RequireChromium(t)
	trusted := newTestCA(t, "trusted test CA")
	srv := serve(t, trusted)
	untrusted := serve(t, newTestCA(t, "another CA"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	b, err := Start(ctx, Options{CAPEM: trusted.pem, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pid := b.PID()
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		if left := b.Leftovers(); len(left) > 0 {
			t.Errorf("processes left after Close: %v", left)
		}
		if pid == 0 || syscall.Kill(pid, 0) == nil {
			t.Errorf("the browser's process %d still exists after Close", pid)
		}
	})
	v, err := b.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s started in %v", v, time.Since(start).Round(time.Millisecond))

	t.Run("trusted CA", func(t *testing.T) {
		p := b.PageT(t)
		if err := p.Navigate(ctx, srv.URL+"/"); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitJS(ctx, `document.getElementById('status').textContent === 'loaded'`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("untrusted CA", func(t *testing.T) {
		p, err := b.NewPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		err = p.Navigate(ctx, untrusted.URL+"/")
		if err == nil || !strings.Contains(err.Error(), "ERR_CERT_AUTHORITY_INVALID") {
			t.Fatalf("loading a page whose CA the browser was not given: got %v, want net::ERR_CERT_AUTHORITY_INVALID", err)
		}
		if n := p.RequestCount("/api/once"); n != 0 {
			t.Errorf("the page's script ran: /api/once requested %d times", n)
		}
	})

	t.Run("requests", func(t *testing.T) {
		p := b.PageT(t)
		if err := p.Navigate(ctx, srv.URL+"/"); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitJS(ctx, `document.getElementById('status').textContent === 'loaded'`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		// The browser asks for /favicon.ico by itself, sometimes.
		got := p.Requests()
		delete(got, "/favicon.ico")
		want := map[string]int{"/": 1, "/style.css": 1, "/app.js": 1, "/api/once": 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("requests of a page that does not poll (-want +got):\n%s", diff)
		}
		var logged []string
		for _, r := range p.RequestLog() {
			if r.Path != "/favicon.ico" {
				logged = append(logged, r.String())
			}
		}
		slices.Sort(logged)
		if diff := cmp.Diff([]string{"GET /", "GET /api/once", "GET /app.js", "GET /style.css"}, logged); diff != "" {
			t.Errorf("the request log (-want +got):\n%s", diff)
		}
		// Another document in the same page: its requests are its own.
		if err := p.Navigate(ctx, srv.URL+"/bad.html"); err != nil {
			t.Fatal(err)
		}
		doc := p.DocumentRequests()
		if len(doc) == 0 || doc[0].String() != "GET /bad.html" || doc[0].Type != "Document" || slices.ContainsFunc(doc, func(r Request) bool { return r.Path == "/api/once" }) {
			t.Errorf("the second document's requests: %v, want GET /bad.html and what it loads", doc)
		}

		poll := b.PageT(t)
		if err := poll.Navigate(ctx, srv.URL+"/poll.html"); err != nil {
			t.Fatal(err)
		}
		poll.ResetRequests()
		time.Sleep(600 * time.Millisecond)
		if n := poll.RequestCount("/api/poll"); n < 3 {
			t.Errorf("a page polling every 100ms: %d requests in 600ms, want at least 3", n)
		}
	})

	t.Run("problems", func(t *testing.T) {
		p, err := b.NewPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.Navigate(ctx, srv.URL+"/problems.html"); err != nil {
			t.Fatal(err)
		}
		want := []string{"Content Security Policy", "seeded console error"}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := strings.Join(p.Problems(), "\n")
			missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool { return strings.Contains(got, w) })
			if len(missing) == 0 && len(p.NetworkErrors()) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("problems %q: missing %q; network errors %q", p.Problems(), missing, p.NetworkErrors())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := len(p.Problems()); got != len(want) {
			t.Errorf("problems %q: want %d", p.Problems(), len(want))
		}
		if nerr := p.NetworkErrors(); len(nerr) != 1 || !strings.Contains(nerr[0], "404") {
			t.Errorf("network errors %q: want the missing image's 404", nerr)
		}
		if inline, err := Eval[bool](ctx, p, `window.inline === true`); err != nil || inline {
			t.Errorf("the inline script ran (%v, %v): the CSP was not applied", inline, err)
		}
	})

	t.Run("axe", func(t *testing.T) {
		RequireAxe(t)
		p := b.PageT(t)
		if err := p.Navigate(ctx, srv.URL+"/"); err != nil {
			t.Fatal(err)
		}
		if vs, err := p.Axe(ctx); err != nil || len(vs) > 0 {
			t.Errorf("axe on the clean page: %v %v", vs, err)
		}
		if err := p.Navigate(ctx, srv.URL+"/bad.html"); err != nil {
			t.Fatal(err)
		}
		vs, err := p.Axe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(vs, func(v Violation) bool { return v.ID == "image-alt" && slices.Contains(v.Targets, "img") }) {
			t.Errorf("axe on a page with an image without alt: %v, want image-alt on img", vs)
		}
	})

	t.Run("keyboard", func(t *testing.T) {
		p := b.PageT(t)
		if err := p.Navigate(ctx, srv.URL+"/"); err != nil {
			t.Fatal(err)
		}
		order, err := p.TabOrder(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, e := range order {
			keys = append(keys, e.Key)
		}
		want := []string{
			"html:nth-of-type(1) > body:nth-of-type(1) > nav:nth-of-type(1) > a:nth-of-type(1)",
			"html:nth-of-type(1) > body:nth-of-type(1) > nav:nth-of-type(1) > a:nth-of-type(2)",
			"input#name", "select#kind", "textarea#notes", "button#go", "a#file", "button#blob",
		}
		if diff := cmp.Diff(want, keys); diff != "" {
			t.Errorf("Tab order (-want +got):\n%s", diff)
		}
		if missed, err := p.Unreachable(ctx); err != nil || len(missed) > 0 {
			t.Errorf("unreachable on the clean page: %v %v", missed, err)
		}
		if err := p.Navigate(ctx, srv.URL+"/bad.html"); err != nil {
			t.Fatal(err)
		}
		missed, err := p.Unreachable(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Element{{Key: "button#skipped", Label: "Unreachable"}}, missed); diff != "" {
			t.Errorf("unreachable with tabindex=-1 (-want +got):\n%s", diff)
		}
	})

	t.Run("downloads", func(t *testing.T) {
		p := b.PageT(t)
		if err := p.Navigate(ctx, srv.URL+"/"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ button, name, want string }{
			{"#file", "test.yaml", "kind: File\n"},
			{"#blob", "blob.yaml", "kind: Blob\n"},
		} {
			if err := p.Do(ctx, chromedp.Click(chromedp.CSS(c.button))); err != nil {
				t.Fatal(err)
			}
			path, err := p.WaitDownload(ctx, c.name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("%s: got %q, want %q", c.name, got, c.want)
			}
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		p := b.PageT(t)
		if err := p.Navigate(ctx, srv.URL+"/"); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		viewport, err := p.Screenshot(ctx, dir, "clean")
		if err != nil {
			t.Fatal(err)
		}
		full, err := p.FullScreenshot(ctx, dir, "clean-full")
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{viewport, full} {
			img, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")) {
				t.Errorf("%s is not a PNG", path)
			}
		}
	})
}
