package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drover-dev/drover/test/browser"
)

// tokensReady: #/tokens has its list (the admin's own session is on it).
var tokensReady = query("#tokens") + ` !== null`

// tokenRow is a JavaScript expression for the #tokens row with a cell
// holding exactly description.
func tokenRow(description string) string {
	return `Array.from(document.querySelectorAll('#tokens tr[data-token-id]')).find(r => Array.from(r.cells).some(c => c.textContent === ` + jsString(description) + `))`
}

// createToken creates an API token in #/tokens and returns its id and the
// secret the page shows once.
func createToken(ctx context.Context, t *testing.T, p *browser.Page, description string) (id, secret string) {
	t.Helper()
	goTo(ctx, t, p, "#/tokens", tokensReady)
	fill(ctx, t, p, "#token-description", description)
	fill(ctx, t, p, "#token-ttl", "1h")
	click(ctx, t, p, "#token-create")
	waitJS(ctx, t, p, "#token-secret", query("#token-secret")+`?.textContent.trim().length > 0 && `+tokenRow(description)+` !== undefined`)
	return eval[string](ctx, t, p, tokenRow(description)+`.dataset.tokenId`), text(ctx, t, p, "#token-secret")
}

// TestTokens: a token created in #/tokens shows its secret once; the
// secret works as a bearer token until it is revoked in the page (Revoke,
// then the confirm), and a reload does not show it again.
func TestTokens(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := f.adminPage(t)

	description := f.uniqueName("console-e2e")
	id, secret := createToken(ctx, t, p, description)
	if code, err := f.bearerStatus(ctx, "/v3/users/me", secret); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v3/users/me with the new token: %d (%v), want 200", code, err)
	}
	if me, err := f.server.Me(ctx, secret); err != nil || me.Username != "admin" {
		t.Errorf("the token is %q's (%v), want admin's", me.Username, err)
	}

	row := `#tokens tr[data-token-id="` + id + `"] `
	click(ctx, t, p, row+".token-revoke")
	waitJS(ctx, t, p, "the focus on the confirm button after Revoke", `document.activeElement?.classList.contains('token-revoke-confirm')`)
	if code, err := f.bearerStatus(ctx, "/v3/users/me", secret); err != nil || code != http.StatusOK {
		t.Errorf("the token stopped working before the confirm: %d (%v)", code, err)
	}
	click(ctx, t, p, row+".token-revoke-confirm")
	waitJS(ctx, t, p, "the token gone from #tokens", query(strings.TrimSpace(row))+` === null && `+query("#tokens-status")+`.textContent.includes('revoked')`)
	if code, err := f.bearerStatus(ctx, "/v3/users/me", secret); err != nil || code != http.StatusUnauthorized {
		t.Errorf("GET /v3/users/me with the revoked token: %d (%v), want 401", code, err)
	}

	if err := p.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, p, "#/tokens after a reload", tokensReady+` && !Array.from(document.querySelectorAll('main [role=status]')).some(e => e.textContent.startsWith('Loading'))`)
	if shown := eval[bool](ctx, t, p, query("#token-secret")+` !== null || document.documentElement.outerHTML.includes(`+jsString(secret)+`)`); shown {
		t.Error("the secret is shown again after a reload")
	}
	if stored := eval[bool](ctx, t, p, `(JSON.stringify(localStorage) + JSON.stringify(sessionStorage)).includes(`+jsString(secret)+`)`); stored {
		t.Error("the secret is kept in web storage")
	}
}
