package console

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const testIndex = `<!doctype html><html><head><title>console</title></head><body></body></html>`

// nonceMetaRE finds the nonce's <meta> in a served index.html.
var nonceMetaRE = regexp.MustCompile(`<meta name="drover-style-nonce" content="([^"]*)">`)

// indexNonce checks one index.html response's nonce and returns it: 128
// bits in standard base64, once in the body's <meta>, once in the header,
// whose policy is otherwise ContentSecurityPolicy; and the body is the
// page with only that <meta> added, before </head>.
func indexNonce(t *testing.T, res *http.Response, page string) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	metas := nonceMetaRE.FindAllStringSubmatch(body, -1)
	if len(metas) != 1 {
		t.Fatalf("%d nonce <meta>s in %q, want 1", len(metas), body)
	}
	nonce := metas[0][1]
	raw, err := base64.StdEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 16 || !regexp.MustCompile(`^[A-Za-z0-9+/]{22}==$`).MatchString(nonce) {
		t.Fatalf("nonce %q: %d bytes, %v; want 16 in standard base64", nonce, len(raw), err)
	}
	if got := strings.Count(body, nonce); got != 1 {
		t.Errorf("the nonce appears %d times in the body, want 1", got)
	}
	if diff := cmp.Diff(page, strings.Replace(body, metas[0][0], "", 1)); diff != "" {
		t.Errorf("body without the <meta> (-want +got):\n%s", diff)
	}
	if !strings.Contains(body, metas[0][0]+"</head>") {
		t.Errorf("the <meta> is not right before </head>: %q", body)
	}
	csp := res.Header.Get("Content-Security-Policy")
	if got := strings.Count(csp, nonce); got != 1 {
		t.Errorf("the nonce appears %d times in the policy %q, want 1", got, csp)
	}
	if !strings.Contains(csp, "style-src 'self' 'nonce-"+nonce+"';") {
		t.Errorf("policy %q: no nonce in style-src", csp)
	}
	if diff := cmp.Diff(ContentSecurityPolicy, strings.Replace(csp, " 'nonce-"+nonce+"'", "", 1)); diff != "" {
		t.Errorf("policy without the nonce (-want +got):\n%s", diff)
	}
	return nonce
}

func TestHandler(t *testing.T) {
	files := fstest.MapFS{
		"index.html":         {Data: []byte(testIndex)},
		"assets/app-1a2b.js": {Data: []byte("console.log(1)")},
		"assets/.hidden":     {Data: []byte("secret")},
		".placeholder":       {Data: []byte("x")},
	}
	h := newHandler(files)
	tests := []struct {
		name, method, path string
		code               int
		body               string
		cache              string
	}{
		{"root", "GET", "/", 200, testIndex, "no-store"},
		{"index", "GET", "/index.html", 200, testIndex, "no-store"},
		{"asset", "GET", "/assets/app-1a2b.js", 200, "console.log(1)", "public, max-age=31536000, immutable"},
		{"missing asset", "GET", "/assets/nope.js", 404, "", ""},
		{"dot file", "GET", "/assets/.hidden", 404, "", ""},
		{"placeholder", "GET", "/.placeholder", 404, "", ""},
		{"traversal", "GET", "/assets/../index.html", 404, "", ""},
		{"post", "POST", "/", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			res := rec.Result()
			if res.StatusCode != tc.code {
				t.Fatalf("code %d, want %d", res.StatusCode, tc.code)
			}
			for _, hd := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
				if res.Header.Get(hd) == "" {
					t.Errorf("no %s", hd)
				}
			}
			if tc.code == 200 && tc.body == testIndex {
				indexNonce(t, res, testIndex)
			} else {
				if got := res.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
					t.Errorf("CSP %q, want the constant", got)
				}
				if tc.code == 200 {
					b, _ := io.ReadAll(res.Body)
					if diff := cmp.Diff(tc.body, string(b)); diff != "" {
						t.Errorf("body (-want +got):\n%s", diff)
					}
				}
			}
			if tc.code != 200 {
				return
			}
			if got := res.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
		})
	}
}

// Every index.html response has a nonce of its own.
func TestNoncePerResponse(t *testing.T) {
	h := newHandler(fstest.MapFS{"index.html": {Data: []byte(testIndex)}})
	seen := map[string]bool{}
	for i := range 200 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, []string{"/", "/index.html"}[i%2], nil))
		n := indexNonce(t, rec.Result(), testIndex)
		if seen[n] {
			t.Fatalf("nonce %q served twice", n)
		}
		seen[n] = true
	}
}

// HEAD gets the headers of a GET, the nonce included, and no body.
func TestIndexHead(t *testing.T) {
	h := newHandler(fstest.MapFS{"index.html": {Data: []byte(testIndex)}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/", nil))
	csp := rec.Result().Header.Get("Content-Security-Policy")
	if rec.Code != 200 || rec.Body.Len() != 0 || !strings.Contains(csp, "'nonce-") {
		t.Fatalf("HEAD: %d, %d bytes, CSP %q", rec.Code, rec.Body.Len(), csp)
	}
}

func TestNotBuilt(t *testing.T) {
	h := newHandler(fstest.MapFS{".placeholder": {Data: []byte("x")}})
	if h.Built() {
		t.Fatal("Built without index.html")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "make console") {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	indexNonce(t, rec.Result(), notBuilt)
}

// An index.html without </head> is served as it is, under the plain policy.
func TestIndexWithoutHead(t *testing.T) {
	page := "<!doctype html><title>odd</title><p>no head end"
	h := newHandler(fstest.MapFS{"index.html": {Data: []byte(page)}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if diff := cmp.Diff(page, rec.Body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if got := rec.Result().Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
		t.Errorf("CSP %q, want the constant", got)
	}
}

func TestIndexPolicy(t *testing.T) {
	want := "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-AAAAAAAAAAAAAAAAAAAAAA=='; img-src 'self' data:; " +
		"font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if diff := cmp.Diff(want, IndexPolicy("AAAAAAAAAAAAAAAAAAAAAA==")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestIsBase64(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"AAAAAAAAAAAAAAAAAAAAAA==", true},
		{"q+/9Zz0=", true},
		{"", false},
		{"a b", false},
		{`a"`, false},
		{"a'", false},
		{"a;", false},
		{"a-_", false}, // URL alphabet: not what newNonce makes
		{"a<", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := isBase64(tc.in); got != tc.want {
				t.Errorf("isBase64(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// Whatever index.html holds, the served page is it with at most the one
// <meta> added, and the policy is the constant with at most the nonce added.
func FuzzIndex(f *testing.F) {
	for _, s := range []string{testIndex, notBuilt, "", "</head>", "</head></head>", "<head>", "x</HEAD>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, page string) {
		h := newHandler(fstest.MapFS{"index.html": {Data: []byte(page)}})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		res := rec.Result()
		if res.StatusCode != 200 {
			t.Fatalf("code %d", res.StatusCode)
		}
		if !strings.Contains(page, "</head>") {
			if got := rec.Body.String(); got != page {
				t.Fatalf("body %q, want %q", got, page)
			}
			if got := res.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Fatalf("CSP %q", got)
			}
			return
		}
		csp := res.Header.Get("Content-Security-Policy")
		m := regexp.MustCompile(`'nonce-([^']*)'`).FindStringSubmatch(csp)
		if m == nil || !isBase64(m[1]) || csp != IndexPolicy(m[1]) {
			t.Fatalf("CSP %q", csp)
		}
		i := strings.Index(page, "</head>")
		want := page[:i] + `<meta name="drover-style-nonce" content="` + m[1] + `">` + page[i:]
		if got := rec.Body.String(); got != want {
			t.Fatalf("body %q, want %q", got, want)
		}
	})
}

// The CSP must not allow what the console's rules forbid.
func TestPolicyStrict(t *testing.T) {
	for _, p := range []string{ContentSecurityPolicy, IndexPolicy("AAAAAAAAAAAAAAAAAAAAAA==")} {
		for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "http:", "https:", "*", "data: 'self'; script"} {
			if strings.Contains(p, bad) {
				t.Errorf("policy %q allows %s", p, bad)
			}
		}
		if !strings.Contains(p, "script-src 'self';") {
			t.Errorf("policy %q: scripts are not 'self' only", p)
		}
	}
}

// isBase64 reports whether s holds only standard base64's characters.
func isBase64(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}
