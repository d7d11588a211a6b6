package console

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/manifest"
	"github.com/drover-dev/drover/test/browser"
	"github.com/drover-dev/drover/test/harness"
)

// importURL is the URL in a "kubectl apply -f <url>" command the page
// shows, checked to be one of this server's import URLs; its token is the
// registration token the URL carries.
func (f *fixture) importURL(t *testing.T, command string) (u, token string) {
	t.Helper()
	u = strings.TrimPrefix(command, "kubectl apply -f ")
	parsed, err := url.Parse(u)
	if err != nil || u == command || parsed.Scheme+"://"+parsed.Host != f.server.URL || !strings.HasPrefix(parsed.Path, "/v3/import/") {
		t.Fatalf("the command %q: want kubectl apply -f %s/v3/import/<token>.yaml", command, f.server.URL)
	}
	return u, strings.TrimSuffix(path.Base(parsed.Path), ".yaml")
}

// fetchManifest GETs an import URL as kubectl would (no credentials but
// the token in it) and returns its status and body.
func (f *fixture) fetchManifest(ctx context.Context, t *testing.T, importURL string) (int, string) {
	t.Helper()
	var body []byte
	err := f.server.Do(ctx, http.MethodGet, strings.TrimPrefix(importURL, f.server.URL), "", nil, &body)
	var apiErr *harness.APIError
	switch {
	case err == nil:
		return http.StatusOK, string(body)
	case errors.As(err, &apiErr):
		return apiErr.Code, apiErr.Body
	}
	t.Fatalf("GET %s: %v", importURL, err)
	return 0, ""
}

// rotate clicks #rotate-registration on a cluster's page and returns the
// command it then shows, after checking that the page sent one POST to the
// cluster's registration-tokens and says what happened to the agents
// (agents: the text #rotate-result must hold).
func rotate(ctx context.Context, t *testing.T, p *browser.Page, clusterID, previous, agents string) string {
	t.Helper()
	p.ResetRequests()
	click(ctx, t, p, "#rotate-registration")
	waitJS(ctx, t, p, "a new command in #rotate-command", query("#rotate-command")+`?.textContent.startsWith('kubectl apply -f ') && `+
		query("#rotate-command")+`.textContent !== `+jsString(previous)+` && `+query("#rotate-status")+`?.textContent.includes('rotated')`)
	if result := text(ctx, t, p, "#rotate-result"); !hasAll(result, agents, "The previous token stays valid until") {
		t.Errorf("#rotate-result %q: want it to say %q and until when the previous token works", result, agents)
	}
	if n, w := sent(p, http.MethodPost, "/v3/clusters/"+clusterID+"/registration-tokens"), writes(p); n != 1 || len(w) != 1 {
		t.Errorf("rotating sent %v, want one POST /v3/clusters/%s/registration-tokens", w, clusterID)
	}
	return text(ctx, t, p, "#rotate-command")
}

// TestRotateRegistration: the admin imports a cluster in #/import, opens
// its page from there and rotates its registration token (no agent is
// connected: the page says the token could not be pushed). The command the
// page shows changes; the old import URL is refused by the server (404,
// saying why), the new one serves the manifest holding the new token, and
// so does only the newest after a second rotation. The verified command
// checks the server's CA before applying the new URL.
func TestRotateRegistration(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := f.adminPage(t)

	goTo(ctx, t, p, "#/import", query("#import-name")+` !== null`)
	name := f.uniqueName("rotated")
	retype(ctx, t, p, "#import-name", name)
	click(ctx, t, p, "#import-submit")
	waitJS(ctx, t, p, "#import-command", query("#import-command")+`?.textContent.startsWith('kubectl apply -f ')`)
	first := text(ctx, t, p, "#import-command")
	firstURL, firstToken := f.importURL(t, first)
	const result = `section[aria-labelledby="import-result-title"] `
	clusterID := strings.TrimPrefix(eval[string](ctx, t, p, query(result+`a[href^="#/clusters/"]`)+`?.getAttribute('href') ?? ''`), "#/clusters/")
	if clusterID == "" {
		t.Fatal("the import result links to no cluster page")
	}
	// The cluster goes when the test ends: the later tests' pages (and
	// their screenshots) show the fixture's clusters only.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.server.Do(ctx, http.MethodDelete, "/v3/clusters/"+clusterID, f.adminToken, nil, nil); err != nil {
			t.Errorf("delete cluster %s: %v", clusterID, err)
		}
	})
	if code, body := f.fetchManifest(ctx, t, firstURL); code != http.StatusOK || !strings.Contains(body, base64.StdEncoding.EncodeToString([]byte(firstToken))) {
		t.Fatalf("GET the import URL before any rotation: %d, want 200 and a manifest holding its token:\n%.300s", code, body)
	}

	// The cluster's page, through the result's link.
	click(ctx, t, p, result+`a[href="#/clusters/`+clusterID+`"]`)
	waitJS(ctx, t, p, "the cluster's page", `location.hash === `+jsString("#/clusters/"+clusterID)+` && `+query("#rotate-registration")+` !== null`)
	if got := text(ctx, t, p, "#cluster-state"); got != "disconnected" {
		t.Errorf("#cluster-state of a cluster no agent ever joined: %q, want disconnected", got)
	}

	const unpushed = "No agent is connected: the new token could not be pushed"
	second := rotate(ctx, t, p, clusterID, "", unpushed)
	secondURL, secondToken := f.importURL(t, second)
	if second == first || secondToken == firstToken {
		t.Fatalf("the command after rotating is the one the import page showed: %q", second)
	}
	if verified := text(ctx, t, p, "#rotate-command-verified"); !hasAll(verified, f.server.CAChecksum, "sha256sum -c", secondURL) {
		t.Errorf("#rotate-command-verified %q: want the CA checked against %s, then %s applied", verified, f.server.CAChecksum, secondURL)
	}

	// What the server does with each URL now, and after a second rotation.
	third := rotate(ctx, t, p, clusterID, second, unpushed)
	thirdURL, thirdToken := f.importURL(t, third)
	for _, u := range []struct {
		name, url, token string
		code             int
	}{
		{"the import page's URL", firstURL, firstToken, http.StatusNotFound},
		{"the first rotation's URL", secondURL, secondToken, http.StatusNotFound},
		{"the newest URL", thirdURL, thirdToken, http.StatusOK},
	} {
		code, body := f.fetchManifest(ctx, t, u.url)
		switch {
		case code != u.code:
			t.Errorf("GET %s: %d, want %d\n%.300s", u.name, code, u.code, body)
		case code == http.StatusOK && !hasAll(body, "kind: Secret", "name: "+manifest.CredentialsSecret, base64.StdEncoding.EncodeToString([]byte(u.token))):
			t.Errorf("GET %s: the manifest holds no %s Secret with its token:\n%.500s", u.name, manifest.CredentialsSecret, body)
		case code == http.StatusNotFound && !strings.Contains(body, "rotated"):
			t.Errorf("GET %s: 404 without saying why: %s", u.name, body)
		}
	}
}
