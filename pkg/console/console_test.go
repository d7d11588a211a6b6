package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestHandler(t *testing.T) {
	files := fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>console</title>")},
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
		{"root", "GET", "/", 200, "<!doctype html><title>console</title>", "no-store"},
		{"index", "GET", "/index.html", 200, "<!doctype html><title>console</title>", "no-store"},
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
			if got := res.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("CSP %q", got)
			}
			for _, hd := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
				if res.Header.Get(hd) == "" {
					t.Errorf("no %s", hd)
				}
			}
			if tc.code != 200 {
				return
			}
			b, _ := io.ReadAll(res.Body)
			if diff := cmp.Diff(tc.body, string(b)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := res.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
		})
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
}

// The CSP must not allow what the console's rules forbid.
func TestPolicyStrict(t *testing.T) {
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "http:", "https:", "*", "data: 'self'; script"} {
		if strings.Contains(ContentSecurityPolicy, bad) {
			t.Errorf("policy allows %s", bad)
		}
	}
}
