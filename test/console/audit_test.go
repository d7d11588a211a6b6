package console

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestAudit: #/audit shows the admin the audit log, and filtering by a
// user's name shows that user's entries only.
func TestAudit(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := f.adminPage(t)

	// Another user, who does a few things through the API.
	user := f.uniqueName("audited")
	if err := f.server.CreateUser(ctx, f.adminToken, user, "audited-password-1", false); err != nil {
		t.Fatal(err)
	}
	token, err := f.server.Login(ctx, user, "audited-password-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v3/users/me", "/v3/clusters", "/v3/tokens"} {
		if err := f.server.Do(ctx, http.MethodGet, path, token, nil, nil); err != nil {
			t.Fatalf("GET %s as %s: %v", path, user, err)
		}
	}

	users := `Array.from(document.querySelectorAll('#audit tr.audit-entry')).map(r => r.cells[1].textContent.trim())`
	goTo(ctx, t, p, "#/audit", users+`.length > 0`)
	if others := eval[int](ctx, t, p, users+`.filter(u => u !== `+jsString(user)+`).length`); others == 0 {
		t.Errorf("#audit unfiltered shows only %s's entries", user)
	}

	fill(ctx, t, p, "#audit-user", user)
	click(ctx, t, p, "#audit-apply")
	waitJS(ctx, t, p, "#audit filtered by user", `location.hash.includes(`+jsString("user="+user)+`) && `+
		`!document.querySelector('main p.status').textContent.startsWith('Loading') && `+users+`.length > 0 && `+
		users+`.every(u => u === `+jsString(user)+`)`)
	// The login and the three reads at least (the log may hold more of
	// this user's from an earlier run in the same process).
	if n := eval[int](ctx, t, p, users+`.length`); n < 4 {
		t.Errorf("#audit filtered by %s shows %d entries, want at least 4 (the login and three reads)", user, n)
	}
}
