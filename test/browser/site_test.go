package browser

import (
	"bytes"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"testing"
)

// csp is the console's Content-Security-Policy, so the static pages are
// held to the same rules.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// site is a handful of static pages, each there to prove one thing about
// the harness.
var site = map[string]struct{ contentType, body string }{
	// A clean page: landmarks, labels, every control reachable; one
	// request to /api/once from its script, a file and a blob to download.
	"/": {"text/html; charset=utf-8", `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Clean</title>
<link rel="stylesheet" href="/style.css"><script src="/app.js" defer></script></head>
<body><header><h1>Clean page</h1></header>
<nav><a href="#/one">One</a> <a href="#/two">Two</a></nav>
<main>
<label for="name">Name</label> <input id="name">
<label for="kind">Kind</label> <select id="kind"><option>a</option><option>b</option></select>
<label for="notes">Notes</label> <textarea id="notes"></textarea>
<button id="go" type="button">Go</button>
<a id="file" href="/file.yaml">Download the file</a>
<button id="blob" type="button">Save a blob</button>
<p id="status"></p>
</main></body></html>`},
	"/style.css": {"text/css", `body { font-family: sans-serif; color: #111; background: #fff; }
:focus-visible { outline: 3px solid #1a4fd6; }`},
	"/app.js": {"text/javascript", `fetch('/api/once').then(r => r.text()).then(t => { document.getElementById('status').textContent = t; });
document.getElementById('blob').addEventListener('click', () => {
	const a = document.createElement('a');
	a.href = URL.createObjectURL(new Blob(['kind: Blob\n'], {type: 'application/yaml'}));
	a.download = 'blob.yaml';
	document.body.append(a);
	a.click();
	a.remove();
});`},
	"/api/once":  {"text/plain", "loaded"},
	"/file.yaml": {"application/yaml", "kind: File\n"},
	// A page that polls.
	"/poll.html": {"text/html; charset=utf-8", `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Poll</title><script src="/poll.js" defer></script></head>
<body><main><h1>Polling</h1></main></body></html>`},
	"/poll.js":  {"text/javascript", `setInterval(() => fetch('/api/poll'), 100);`},
	"/api/poll": {"text/plain", "again"},
	// A serious accessibility violation (an image without alt text) and
	// a button Tab cannot reach.
	"/bad.html": {"text/html; charset=utf-8", `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bad</title></head>
<body><main><h1>Bad page</h1><img src="/pixel.png">
<button id="first" type="button">Reachable</button>
<button id="skipped" type="button" tabindex="-1">Unreachable</button>
</main></body></html>`},
	// An inline script the CSP refuses, and a console error; a missing
	// image is a network error, not a problem.
	"/problems.html": {"text/html; charset=utf-8", `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Problems</title>
<script>window.inline = true;</script><script src="/error.js"></script></head>
<body><main><h1>Problems</h1><img src="/missing.png" alt="missing"></main></body></html>`},
	"/error.js": {"text/javascript", `console.error('seeded console error');`},
}

// serve starts an HTTPS server for site whose certificate ca signed.
func serve(t *testing.T, ca *testCA) *httptest.Server {
	t.Helper()
	var pixel bytes.Buffer
	if err := png.Encode(&pixel, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		if r.URL.Path == "/pixel.png" {
			h.Set("Content-Type", "image/png")
			w.Write(pixel.Bytes())
			return
		}
		page, ok := site[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", page.contentType)
		if r.URL.Path == "/file.yaml" {
			h.Set("Content-Disposition", `attachment; filename="test.yaml"`)
		}
		w.Write([]byte(page.body))
	}))
	srv.TLS = ca.serverTLS(t)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}
