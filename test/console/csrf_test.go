package console

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// attackPage is what another site serves to a Drover admin who visits it:
// a fetch and a form that try to create a token in Drover with the
// visitor's cookie. Both are requests a page may send anywhere without
// asking (no-cors; a form with enctype text/plain), and both bodies are
// JSON the API would take (the form's is name=value: {"description":
// "csrf-form-<site>="}).
const attackPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Another site</title></head>
<body><main><h1>Another site</h1>
<form id="attack" method="POST" action="%[1]s/v3/tokens" enctype="text/plain">
<input type="hidden" name='{"description":"csrf-form-%[2]s' value='"}'>
</form>
<script>
window.fetched = fetch(%[1]q + "/v3/tokens", {method: "POST", mode: "no-cors", credentials: "include",
	headers: {"Content-Type": "text/plain"}, body: JSON.stringify({description: "csrf-fetch-%[2]s"})})
	.then(() => "sent", e => "failed: " + e);
</script></main></body></html>`

// serveAttack serves attackPage on ip (a port of its own) under a
// certificate of the fixture's sites CA, which the browser trusts.
func (f *fixture) serveAttack(t *testing.T, ip net.IP, site string) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/attack.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, attackPage, f.server.URL, site)
	}))
	srv.Listener.Close()
	srv.Listener = l
	if srv.TLS, err = f.sites.serverTLS(ip); err != nil {
		t.Fatal(err)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestCSRF: with the admin's session cookie in the browser, a
// state-changing call from the console's own page without the CSRF header
// is refused; and another site's page, cross-site (127.0.0.2) or same-site
// on another port, changes nothing: its requests reach Drover and are
// refused (401: the SameSite=Strict cookie was not sent; 403: the cookie
// was sent with another Origin).
func TestCSRF(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := f.adminPage(t)
	f.load(ctx, t, p, "#/tokens", tokensReady)

	var victim struct{ ID, Token string }
	if err := f.server.Do(ctx, http.MethodPost, "/v3/tokens", f.adminToken, map[string]string{"description": "csrf-victim", "ttl": "1h"}, &victim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.server.Do(context.Background(), http.MethodDelete, "/v3/tokens/"+victim.ID, f.adminToken, nil, nil)
	})

	t.Run("same origin without the header", func(t *testing.T) {
		call := func(method, path, body string, withHeader bool) string {
			return eval[string](ctx, t, p, `(async () => {
				const headers = {"Content-Type": "application/json"};
				if (`+fmt.Sprint(withHeader)+`) headers["X-CSRF-Token"] = (await (await fetch('/v3/users/me', {credentials: 'same-origin'})).json()).csrfToken;
				const r = await fetch(`+jsString(path)+`, {method: `+jsString(method)+`, credentials: 'same-origin', headers, body: `+jsString(body)+` || undefined});
				const s = await r.json().catch(() => ({}));
				return r.status + ' ' + (s.reason ?? '') + ' ' + (s.message ?? '') + ' ' + (s.id ?? '');
			})()`)
		}
		for _, c := range []struct{ method, path, body string }{
			{http.MethodPost, "/v3/tokens", `{"description":"csrf-no-header","ttl":"1h"}`},
			{http.MethodDelete, "/v3/tokens/" + victim.ID, ""},
		} {
			got := call(c.method, c.path, c.body, false)
			if !strings.HasPrefix(got, "403 Forbidden ") || !strings.Contains(got, "CSRF") {
				t.Errorf("%s %s from the page without X-CSRF-Token: %q, want 403 Forbidden naming CSRF", c.method, c.path, got)
			}
		}
		if code, err := f.bearerStatus(ctx, "/v3/users/me", victim.Token); err != nil || code != http.StatusOK {
			t.Errorf("the token the refused DELETE named: %d (%v), want it alive", code, err)
		}
		// The same call with the header is the console's own, and works:
		// the refusal was for the header alone.
		got := call(http.MethodPost, "/v3/tokens", `{"description":"csrf-with-header","ttl":"1h"}`, true)
		if !strings.HasPrefix(got, "201 ") {
			t.Fatalf("POST /v3/tokens from the page with X-CSRF-Token: %q, want 201", got)
		}
		id := got[strings.LastIndexByte(got, ' ')+1:]
		f.server.Do(ctx, http.MethodDelete, "/v3/tokens/"+id, f.adminToken, nil, nil)
	})

	t.Run("other sites", func(t *testing.T) {
		for _, site := range []struct {
			name string
			ip   net.IP
			// The statuses Drover answers its two requests with: a
			// same-site page on another port gets the cookie sent and its
			// Origin refused (403); from another site the SameSite=Strict
			// cookie is not sent at all (401).
			want map[int]int
		}{
			{"same-site", net.IPv4(127, 0, 0, 1), map[int]int{http.StatusForbidden: 2}},
			{"cross-site", net.IPv4(127, 0, 0, 2), map[int]int{http.StatusUnauthorized: 2}},
		} {
			since := time.Now()
			srv := f.serveAttack(t, site.ip, site.name)
			if err := p.Navigate(ctx, srv.URL+"/attack.html"); err != nil {
				t.Fatal(err)
			}
			if got := eval[string](ctx, t, p, `window.fetched`); got != "sent" {
				t.Errorf("%s: the fetch: %s", site.name, got)
			}
			if err := p.Do(ctx, chromedp.Submit(chromedp.CSS("#attack"))); err != nil {
				t.Fatal(err)
			}
			waitJS(ctx, t, p, site.name+": the form's answer", `location.href === `+jsString(f.server.URL+"/v3/tokens"))

			// Both requests reached Drover and were refused there.
			if err := eventually(ctx, 100*time.Millisecond, func() error {
				got, err := f.auditStatuses(ctx, http.MethodPost, "/v3/tokens", since)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(site.want, got); diff != "" {
					return fmt.Errorf("%s: the audit log's POST /v3/tokens by status (-want +got):\n%s", site.name, diff)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		}

		var tokens struct {
			Items []struct{ ID, Description string }
		}
		if err := f.server.Do(ctx, http.MethodGet, "/v3/tokens", f.adminToken, nil, &tokens); err != nil {
			t.Fatal(err)
		}
		for _, tok := range tokens.Items {
			if strings.HasPrefix(tok.Description, "csrf-") && tok.ID != victim.ID {
				t.Errorf("token %s %q was created", tok.ID, tok.Description)
			}
		}
		f.load(ctx, t, p, "#/clusters", query("#clusters")+` !== null`)
	})
}

// auditStatuses counts the audit log's entries of API calls (method, path)
// since a time, by status.
func (f *fixture) auditStatuses(ctx context.Context, method, path string, since time.Time) (map[int]int, error) {
	var audit struct {
		Items []struct {
			Time   time.Time `json:"time"`
			Path   string    `json:"path"`
			Status int       `json:"status"`
		} `json:"items"`
	}
	if err := f.server.Do(ctx, http.MethodGet, "/v3/audit?limit=200&verb="+strings.ToLower(method), f.adminToken, nil, &audit); err != nil {
		return nil, err
	}
	got := map[int]int{}
	for _, e := range audit.Items {
		if e.Path == path && !e.Time.Before(since) {
			got[e.Status]++
		}
	}
	return got, nil
}
