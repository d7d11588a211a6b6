package console

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// ContentSecurityPolicy is the policy of every console response but
// index.html's, which adds a nonce to style-src (see IndexPolicy).
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; " + styleSrc + "; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// styleSrc is ContentSecurityPolicy's style directive, which index.html's
// policy extends with its nonce.
const styleSrc = "style-src 'self'"

// NonceMetaName is the name of the <meta> through which index.html hands
// its style nonce to the console's script.
const NonceMetaName = "drover-style-nonce"

// nonceBytes is the nonce's size: 128 bits from crypto/rand.
const nonceBytes = 16

// IndexPolicy is index.html's policy for one response: ContentSecurityPolicy
// with 'nonce-<nonce>' added to style-src and nothing else changed. nonce
// must be a base64 string (newNonce's).
func IndexPolicy(nonce string) string {
	return strings.Replace(ContentSecurityPolicy, styleSrc, styleSrc+" 'nonce-"+nonce+"'", 1)
}

// newNonce returns 16 bytes from crypto/rand (which cannot fail) in
// standard base64: its alphabet needs no escaping in a header or an HTML
// attribute.
func newNonce() string {
	var b [nonceBytes]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

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
	index indexPage
	built bool
}

// indexPage is index.html cut where the nonce's <meta> goes: before the
// first </head>. Without one (an index.html this package does not
// expect), the page is served whole with ContentSecurityPolicy, no nonce.
type indexPage struct {
	head, rest []byte
	templated  bool
}

func newIndexPage(b []byte) indexPage {
	i := bytes.Index(b, []byte("</head>"))
	if i < 0 {
		return indexPage{head: b}
	}
	return indexPage{head: b[:i], rest: b[i:], templated: true}
}

// render returns the page for one response with its nonce's <meta>.
func (p indexPage) render(nonce string) []byte {
	meta := `<meta name="` + NonceMetaName + `" content="` + nonce + `">`
	out := make([]byte, 0, len(p.head)+len(meta)+len(p.rest))
	out = append(out, p.head...)
	out = append(out, meta...)
	return append(out, p.rest...)
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
	h := &Handler{files: files, index: newIndexPage([]byte(notBuilt))}
	if b, err := fs.ReadFile(files, "index.html"); err == nil {
		h.index, h.built = newIndexPage(b), true
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
		h.serveIndex(w, r)
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

// serveIndex serves index.html with a fresh style nonce in its policy and
// its <meta>. The page is never cached: each response has its own nonce.
func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	if !h.index.templated {
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index.head))
		return
	}
	nonce := newNonce()
	hdr.Set("Content-Security-Policy", IndexPolicy(nonce))
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index.render(nonce)))
}
