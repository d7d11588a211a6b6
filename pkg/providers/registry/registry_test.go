package registry

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
)

func TestSave(t *testing.T) {
	ldapOK := `{"url":"ldaps://ldap.example.org","bindDN":"cn=svc,dc=example,dc=org","bindPassword":"s3cret-bind","userBaseDN":"ou=people,dc=example,dc=org","timeout":"5s"}`
	for _, tc := range []struct {
		name, provider, typ, config string
		want                        Info
		wantErr                     string // substring of a *ConfigError
	}{
		{name: "ldap", provider: "corp", typ: "ldap", config: ldapOK, want: Info{Name: "corp", Type: "ldap",
			Config: map[string]any{"name": "corp", "url": "ldaps://ldap.example.org", "bindDN": "cn=svc,dc=example,dc=org",
				"userBaseDN": "ou=people,dc=example,dc=org", "timeout": "5s"},
			Secrets: map[string]string{"bindPassword": "set"}}},
		{name: "oidc without secret", provider: "sso", typ: "oidc",
			config: `{"issuerURL":"https://sso.example.org","clientID":"drover","redirectURL":"https://drover.example.org/v3/login/sso/callback"}`,
			want: Info{Name: "sso", Type: "oidc", Config: map[string]any{"name": "sso", "issuerURL": "https://sso.example.org",
				"clientID": "drover", "redirectURL": "https://drover.example.org/v3/login/sso/callback"},
				Secrets: map[string]string{"clientSecret": "unset"}}},
		{name: "github", provider: "gh", typ: "github",
			config: `{"clientID":"id","clientSecret":"gh-secret","redirectURL":"https://drover.example.org/v3/login/gh/callback","orgs":["acme"]}`,
			want: Info{Name: "gh", Type: "github", Config: map[string]any{"name": "gh", "clientID": "id",
				"redirectURL": "https://drover.example.org/v3/login/gh/callback", "orgs": []any{"acme"}},
				Secrets: map[string]string{"clientSecret": "set"}}},
		{name: "reserved name", provider: "local", typ: "ldap", config: ldapOK, wantErr: `"local" is reserved`},
		{name: "bad name", provider: "Corp", typ: "ldap", config: ldapOK, wantErr: "provider name"},
		{name: "system", provider: "system", typ: "ldap", config: ldapOK, wantErr: "reserved"},
		{name: "unknown type", provider: "corp", typ: "saml", config: ldapOK, wantErr: `type "saml" must be one of`},
		{name: "unknown field", provider: "corp", typ: "ldap", config: `{"url":"ldaps://x","userBaseDN":"dc=x","bindPasswd":"oops"}`,
			wantErr: `unknown field "bindPasswd"`},
		{name: "missing field", provider: "corp", typ: "ldap", config: `{"url":"ldaps://x"}`, wantErr: "userBaseDN is required"},
		{name: "clear text ldap", provider: "corp", typ: "ldap", config: `{"url":"ldap://x","userBaseDN":"dc=x"}`, wantErr: "insecureNoTLS"},
		{name: "wrong type of field", provider: "corp", typ: "ldap", config: `{"url":1}`, wantErr: "config.url must be a string"},
		{name: "bad duration", provider: "corp", typ: "ldap", config: `{"url":"ldaps://x","userBaseDN":"dc=x","timeout":"soon"}`,
			wantErr: `config.timeout "soon" must be a duration`},
		{name: "name mismatch", provider: "corp", typ: "ldap", config: `{"name":"other","url":"ldaps://x","userBaseDN":"dc=x"}`,
			wantErr: `config.name "other" must be left out or equal`},
		{name: "not an object", provider: "corp", typ: "ldap", config: `[1]`, wantErr: "config must be a JSON object"},
		{name: "bad CA", provider: "corp", typ: "ldap", config: `{"url":"ldaps://x","userBaseDN":"dc=x","caData":"nope"}`, wantErr: "caData"},
		{name: "oidc http issuer", provider: "sso", typ: "oidc",
			config: `{"issuerURL":"http://sso.example.org","clientID":"d","redirectURL":"https://d/cb"}`, wantErr: "issuerURL"},
		{name: "github without secret", provider: "gh", typ: "github",
			config: `{"clientID":"id","redirectURL":"https://d/cb"}`, wantErr: "clientSecret is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBed(t)
			got, err := b.reg.Save(context.Background(), tc.provider, tc.typ, []byte(tc.config))
			if tc.wantErr != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Save: got %v, want a ConfigError containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "oops") {
					t.Errorf("error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Info{}, "CreatedAt", "UpdatedAt")); diff != "" {
				t.Errorf("Save (-want +got):\n%s", diff)
			}
			again, err := b.reg.Info(context.Background(), tc.provider)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("Info after Save (-saved +read):\n%s", diff)
			}
		})
	}
}

func TestSecretsSealedAndKept(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "corp", "fake-password", map[string]any{"realm": "one", "secret": "very-secret-value"})
	row, err := b.st.AuthProvider(ctx, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(row.Config, []byte("very-secret-value")) || bytes.Contains(row.Config, []byte("realm")) {
		t.Fatal("the stored config is not sealed")
	}
	p1, err := b.reg.Provider(ctx, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if p2, _ := b.reg.Provider(ctx, "corp"); p2 != p1 {
		t.Error("an unchanged config was built again")
	}

	// An update that leaves the secret out keeps it.
	b.save(t, "corp", "fake-password", map[string]any{"realm": "two"})
	info, err := b.reg.Info(ctx, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if info.Secrets["secret"] != "set" || info.Config["realm"] != "two" {
		t.Errorf("after an update without the secret: %+v", info)
	}
	if p3, _ := b.reg.Provider(ctx, "corp"); p3 == p1 {
		t.Error("a changed config was not built again")
	}

	// A blob moved to another provider's row does not open.
	row.Name = "moved"
	if err := b.st.SaveAuthProvider(ctx, row); err != nil {
		t.Fatal(err)
	}
	if _, err := b.reg.Provider(ctx, "moved"); err == nil {
		t.Error("a config sealed for another provider opened")
	}

	sums, err := b.reg.Summaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Summary{{Name: "corp", Type: "fake-password"}, {Name: "moved", Type: "fake-password"}}
	if diff := cmp.Diff(want, sums); diff != "" {
		t.Errorf("Summaries (-want +got):\n%s", diff)
	}
}

func login(t *testing.T, b *bed, provider, user, password string) (store.User, bool) {
	t.Helper()
	pp, err := b.reg.PasswordProvider(context.Background(), provider)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pp.Login(context.Background(), user, password)
	if err != nil {
		t.Fatal(err)
	}
	u, changed, err := b.reg.Record(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return u, changed
}

func TestRecordAndRefresh(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})

	u, changed := login(t, b, "corp", "alice", "alice-pw")
	want := store.User{ID: u.ID, Username: "corp:alice", CreatedAt: b.clock.Now(), Provider: "corp", ExternalID: "id-alice",
		DisplayName: "The alice", Groups: []string{"corp:devs", "corp:ops"}, GroupsAt: b.clock.Now()}
	if diff := cmp.Diff(want, u); diff != "" || !changed {
		t.Errorf("first login: changed=%v (-want +got):\n%s", changed, diff)
	}
	if again, changed := login(t, b, "corp", "alice", "alice-pw"); again.ID != u.ID || changed {
		t.Errorf("second login: id %s (want %s), changed=%v (want false)", again.ID, u.ID, changed)
	}

	// Groups change in the directory; a refresh picks it up.
	b.dir.set(func(d *directory) { d.users["alice"].groups = []string{"devs"} })
	b.clock.Add(time.Hour)
	res, err := b.reg.Refresh(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Disabled || !cmp.Equal(res.User.Groups, []string{"corp:devs"}) || !res.User.GroupsAt.Equal(b.clock.Now()) {
		t.Errorf("refresh after a group change: %+v", res)
	}

	// Nothing to refresh with: kept as is.
	b.dir.set(func(d *directory) { d.refreshErr = providers.ErrNoRefresh })
	if _, err := b.reg.Refresh(ctx, u.ID); !errors.Is(err, providers.ErrNoRefresh) {
		t.Errorf("refresh without a refresh credential: %v", err)
	}

	// The provider is down: an error, the user stays enabled with its groups.
	b.dir.set(func(d *directory) { d.refreshErr = errors.New("connection refused") })
	if _, err := b.reg.Refresh(ctx, u.ID); err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("refresh with the provider down: %v", err)
	}
	if got, _ := b.st.UserByID(ctx, u.ID); got.Disabled || len(got.Groups) != 1 {
		t.Errorf("after a failed refresh: %+v", got)
	}

	// Gone from the directory: disabled, its tokens dropped.
	b.dir.set(func(d *directory) { d.refreshErr = nil; d.users["alice"].gone = true })
	tok, _ := token.New("t-")
	hashed, _ := token.Hash(tok)
	if err := b.st.CreateToken(ctx, store.Token{ID: tok.ID, UserID: u.ID, Kind: store.KindAPI, Hashed: hashed,
		CreatedAt: b.clock.Now(), ExpiresAt: b.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	heardBefore := b.heard.changes
	res, err = b.reg.Refresh(ctx, u.ID)
	if err != nil || !res.Disabled {
		t.Fatalf("refresh of a user gone from the directory: %+v %v", res, err)
	}
	if got, _ := b.st.UserByID(ctx, u.ID); !got.Disabled {
		t.Error("the user is not disabled in the store")
	}
	if !cmp.Equal(b.heard.invalidated, []string{tok.ID}) || b.heard.changes == heardBefore {
		t.Errorf("listeners heard invalidations %v, %d access changes", b.heard.invalidated, b.heard.changes-heardBefore)
	}

	// A disabled user's login is refused without a write.
	b.dir.set(func(d *directory) { d.users["alice"].gone = false })
	pp, _ := b.reg.PasswordProvider(ctx, "corp")
	p, _ := pp.Login(ctx, "alice", "alice-pw")
	if _, _, err := b.reg.Record(ctx, p); !errors.Is(err, ErrUserDisabled) || !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("login of a disabled user: %v", err)
	}

	// Local users have no provider.
	local := store.User{ID: "u-local", Username: "root", CreatedAt: b.clock.Now()}
	if err := b.st.CreateUser(ctx, local, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.reg.Refresh(ctx, local.ID); !errors.Is(err, ErrNotExternal) {
		t.Errorf("refresh of a local user: %v", err)
	}
}

func TestRecordRefuses(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		p    providers.Principal
	}{
		{"no id", providers.Principal{Provider: "corp", Username: "x"}},
		{"control characters", providers.Principal{Provider: "corp", ID: "1", Username: "a\nb"}},
		{"leading space", providers.Principal{Provider: "corp", ID: "1", Username: " admin"}},
		{"empty username", providers.Principal{Provider: "corp", ID: "1"}},
		{"system provider", providers.Principal{Provider: "system", ID: "1", Username: "masters"}},
	} {
		if _, _, err := b.reg.Record(ctx, tc.p); err == nil {
			t.Errorf("%s: recorded", tc.name)
		}
	}
	// The same name from another principal is refused, not merged.
	if _, _, err := b.reg.Record(ctx, providers.Principal{Provider: "corp", ID: "1", Username: "eve"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := b.reg.Record(ctx, providers.Principal{Provider: "corp", ID: "2", Username: "eve"})
	if !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), "taken") {
		t.Errorf("second principal with a taken name: %v", err)
	}
}

func TestRefreshDue(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})
	alice, _ := login(t, b, "corp", "alice", "alice-pw")
	login(t, b, "corp", "bob", "bob-pw")

	b.RefreshDue(t, time.Hour)
	if b.dir.refreshes != 0 {
		t.Fatalf("%d refreshes of fresh users", b.dir.refreshes)
	}
	b.clock.Add(2 * time.Hour)
	b.RefreshDue(t, time.Hour)
	if b.dir.refreshes != 2 {
		t.Fatalf("%d refreshes of due users, want 2", b.dir.refreshes)
	}

	// Nothing to refresh with: not asked again within the interval.
	b.clock.Add(2 * time.Hour)
	b.dir.set(func(d *directory) { d.refreshErr = providers.ErrNoRefresh; d.refreshes = 0 })
	skip := map[string]time.Time{}
	b.reg.RefreshDue(ctx, time.Hour, skip)
	b.reg.RefreshDue(ctx, time.Hour, skip)
	if b.dir.refreshes != 2 {
		t.Errorf("%d refreshes with nothing to refresh with, want 2 (once each)", b.dir.refreshes)
	}

	// The provider down for longer than MaxStale: groups dropped, users kept.
	b.dir.set(func(d *directory) { d.refreshErr = errors.New("down") })
	b.clock.Add(25 * time.Hour)
	b.RefreshDue(t, time.Hour)
	got, err := b.st.UserByID(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Groups) != 0 || got.Disabled {
		t.Errorf("after a long outage: groups %v disabled %v, want no groups, enabled", got.Groups, got.Disabled)
	}
}

func (b *bed) RefreshDue(t *testing.T, interval time.Duration) {
	t.Helper()
	b.reg.RefreshDue(context.Background(), interval, nil)
}

func TestDeleteDisablesUsers(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})
	u, _ := login(t, b, "corp", "alice", "alice-pw")
	n, err := b.reg.Delete(ctx, "corp")
	if err != nil || n != 1 {
		t.Fatalf("Delete: %d users disabled, %v", n, err)
	}
	if got, _ := b.st.UserByID(ctx, u.ID); !got.Disabled {
		t.Error("user of a deleted provider still enabled")
	}
	if _, err := b.reg.Provider(ctx, "corp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Provider after Delete: %v", err)
	}
	if _, err := b.reg.Delete(ctx, "corp"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
}
