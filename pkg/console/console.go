package console

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// ContentSecurityPolicy is every console response's policy.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// notBuilt is served at / when the binary was built without the console.
const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drover</title></head>
<body><main><h1>Drover</h1>
<p>This drover-server was built without its web console. Build it with <code>make console</code>
(or <code>make build</code>), then build the server again. The API is at <code>/v3</code>.</p>
</main></body></html>
`

// Handler serves the console.
type Handler struct {
	files fs.FS
	index []byte
	built bool
}

// New returns the handler of the embedded console.
func New() *Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return newHandler(sub)
}

func newHandler(files fs.FS) *Handler {
	h := &Handler{files: files, index: []byte(notBuilt)}
	if b, err := fs.ReadFile(files, "index.html"); err == nil {
		h.index, h.built = b, true
	}
	return h
}

// Built reports whether the binary holds a built console.
func (h *Handler) Built() bool { return h.built }

// Paths are what the handler serves: register them with the router.
var Paths = []string{"/", "/index.html", "/favicon.ico"}

// AssetsPrefix is the path prefix of the built assets.
const AssetsPrefix = "/assets/"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == "/" || p == "/index.html" {
		hdr.Set("Cache-Control", "no-store")
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index))
		return
	}
	name := strings.TrimPrefix(p, "/")
	if path.Clean(p) != p || !strings.HasPrefix(p, AssetsPrefix) && p != "/favicon.ico" || !fs.ValidPath(name) || strings.Contains(name, "/.") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(h.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(p, AssetsPrefix) {
		// Vite names every asset by its content's hash.
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}
