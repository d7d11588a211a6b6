package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-dev/drover/pkg/ids"
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
		{name: "drover", provider: "drover", typ: "ldap", config: ldapOK, wantErr: `"drover" is reserved`},
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
			got, err := b.reg.Save(context.Background(), tc.provider, tc.typ, []byte(tc.config), SaveOptions{})
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
		Login: "alice", DisplayName: "The alice", Groups: []string{"corp:devs", "corp:ops"}, GroupsAt: b.clock.Now()}
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
	tok, _ := token.New(ids.Token)
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
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})
	for _, tc := range []struct {
		name string
		p    providers.Principal
	}{
		{"no id", providers.Principal{Provider: "corp", Username: "x"}},
		{"control characters", providers.Principal{Provider: "corp", ID: "1", Username: "a\nb"}},
		{"leading space", providers.Principal{Provider: "corp", ID: "1", Username: " admin"}},
		{"empty username", providers.Principal{Provider: "corp", ID: "1"}},
		{"system provider", providers.Principal{Provider: "system", ID: "1", Username: "masters"}},
		{"drover provider", providers.Principal{Provider: "drover", ID: "1", Username: "x", Groups: []string{"drover:admins"}}},
		{"reserved group", providers.Principal{Provider: "corp", ID: "1", Username: "x", Groups: []string{"drover:admins"}}},
		{"system group", providers.Principal{Provider: "corp", ID: "1", Username: "x", Groups: []string{"corp:a", "system:masters"}}},
		{"trailing space", providers.Principal{Provider: "corp", ID: "1", Username: "admin "}},
		{"unconfigured provider", providers.Principal{Provider: "other", ID: "1", Username: "x"}},
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
	b.RefreshDue(t, time.Hour)
	b.clock.Add(10 * time.Minute)
	b.RefreshDue(t, time.Hour)
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

// TestStaleGroupsDroppedWithoutRefresh: groups the provider cannot refresh
// (ErrNoRefresh, e.g. an OIDC issuer that gave no refresh token) do not
// stay forever: after MaxStale they go, and a login restores them.
func TestStaleGroupsDroppedWithoutRefresh(t *testing.T) {
	b := newBed(t) // MaxStale 24h
	ctx := context.Background()
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})
	alice, _ := login(t, b, "corp", "alice", "alice-pw")
	b.dir.set(func(d *directory) { d.refreshErr = providers.ErrNoRefresh })
	for range 30 {
		b.clock.Add(time.Hour)
		b.RefreshDue(t, time.Hour)
	}
	got, err := b.st.UserByID(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Groups) != 0 || got.Disabled {
		t.Errorf("after 30h without a refresh: groups %v disabled %v, want none, enabled", got.Groups, got.Disabled)
	}
	b.dir.set(func(d *directory) { d.refreshErr = nil })
	if u, _ := login(t, b, "corp", "alice", "alice-pw"); len(u.Groups) != 2 {
		t.Errorf("a login did not restore the groups: %v", u.Groups)
	}
}

// TestRefreshNoStarvation: users whose refresh keeps failing do not keep
// the others from being refreshed.
func TestRefreshNoStarvation(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})
	// Five users who fail (their ids are unknown to the directory's
	// Refresh in a way that is not a refusal), created first: oldest
	// groups, at the head of the old queue.
	failing := &failingRefresh{fakeBase: fakeBase{name: "corp", dir: b.dir}, fail: map[string]bool{}}
	for i := range 5 {
		id := fmt.Sprint("id-fail-", i)
		failing.fail[id] = true
		if _, _, err := b.reg.Record(ctx, providers.Principal{Provider: "corp", ID: id, Username: fmt.Sprint("fail", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b.clock.Add(time.Minute)
	alice, _ := login(t, b, "corp", "alice", "alice-pw")
	b.reg.mu.Lock()
	c := b.reg.cache["corp"]
	c.provider = failing
	b.reg.cache["corp"] = c
	b.reg.mu.Unlock()

	b.dir.set(func(d *directory) { d.users["alice"].groups = []string{"devs", "ops", "new"} })
	b.clock.Add(2 * time.Hour)
	for range 3 { // three passes, a tenth of the interval apart
		b.RefreshDue(t, time.Hour)
		b.clock.Add(6 * time.Minute)
	}
	got, _ := b.st.UserByID(ctx, alice.ID)
	if len(got.Groups) != 3 {
		t.Errorf("alice not refreshed behind users that keep failing: groups %v", got.Groups)
	}
}

// failingRefresh fails (as an outage) for the ids in fail and refreshes
// the rest from the directory.
type failingRefresh struct {
	fakeBase
	fail map[string]bool
}

func (p *failingRefresh) Refresh(ctx context.Context, prev providers.Principal) (providers.Principal, error) {
	if p.fail[prev.ID] {
		return providers.Principal{}, errors.New("timeout")
	}
	return p.fakeBase.Refresh(ctx, prev)
}

func (b *bed) RefreshDue(t *testing.T, interval time.Duration) {
	t.Helper()
	b.reg.RefreshDue(context.Background(), interval)
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

// TestUsernameFixedAtCreation: a user's Drover username is the Kubernetes
// identity downstream RBAC names. A rename at the provider changes the
// login and display name, never the username; and a new principal whose
// username is taken is refused, nobody renamed.
func TestUsernameFixedAtCreation(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})
	alice, _ := login(t, b, "corp", "alice", "alice-pw")

	// alice becomes alicia at the provider; a refresh and a login follow.
	b.dir.set(func(d *directory) { d.users["alicia"] = d.users["alice"]; delete(d.users, "alice") })
	res, err := b.reg.Refresh(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.User.Username != "corp:alice" || res.User.Login != "alicia" || res.User.DisplayName != "The alicia" || res.Changed {
		t.Errorf("after a rename and a refresh: %+v", res)
	}
	if u, _ := login(t, b, "corp", "alicia", "alice-pw"); u.ID != alice.ID || u.Username != "corp:alice" {
		t.Errorf("after a rename and a login: %+v", u)
	}

	// Someone else now gets the login "alice": refused, alice untouched.
	b.dir.set(func(d *directory) {
		d.users["alice"] = &person{id: "id-new-alice", password: "pw", groups: []string{"admins"}}
	})
	pp, _ := b.reg.PasswordProvider(ctx, "corp")
	p, err := pp.Login(ctx, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.reg.Record(ctx, p); !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), "taken") {
		t.Errorf("a new principal with a taken username: %v", err)
	}
	if got, _ := b.st.UserByID(ctx, alice.ID); got.Username != "corp:alice" || got.ExternalID != "id-alice" {
		t.Errorf("the first alice changed: %+v", got)
	}
}

// TestRecordDropsUnsafeGroups: whatever a provider answers, groups that
// HTTP would change on the way downstream (spaces around them) or that
// lack the provider's prefix are not stored.
func TestRecordDropsUnsafeGroups(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})
	u, _, err := b.reg.Record(ctx, providers.Principal{Provider: "corp", ID: "1", Username: "eve",
		Groups: []string{"corp:admins ", "corp: admins", "corp:devs", "sso:admins", "corp:a\x00b", "corp:cn=x, dc=y"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"corp:cn=x, dc=y", "corp:devs"}, u.Groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

// TestDeleteEndsEverything: deleting a provider disables its users and
// deletes every token they hold (sessions, API, kubeconfig), dropping them
// from the caches; a login that finishes afterwards is refused.
func TestDeleteEndsEverything(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})
	u, _ := login(t, b, "corp", "alice", "alice-pw")
	var tokenIDs []string
	for _, kind := range []string{store.KindSession, store.KindAPI, store.KindAPI} {
		tok, _ := token.New(ids.Token)
		h, _ := token.Hash(tok)
		if err := b.st.CreateToken(ctx, store.Token{ID: tok.ID, UserID: u.ID, Kind: kind, Hashed: h, CreatedAt: b.clock.Now(),
			ExpiresAt: b.clock.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		tokenIDs = append(tokenIDs, tok.ID)
	}
	// A login in progress: the provider has vouched, Record has not run.
	pp, _ := b.reg.PasswordProvider(ctx, "corp")
	late, err := pp.Login(ctx, "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.reg.Delete(ctx, "corp"); err != nil {
		t.Fatal(err)
	}
	if toks, _ := b.st.ListTokens(ctx, u.ID); len(toks) != 0 {
		t.Errorf("%d tokens outlived their provider", len(toks))
	}
	if diff := cmp.Diff(tokenIDs, b.heard.invalidated, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("invalidated (-want +got):\n%s", diff)
	}
	if _, _, err := b.reg.Record(ctx, late); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("a login finished after the provider's deletion: %v", err)
	}
	if _, err := b.st.UserByExternalID(ctx, "corp", "id-bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a user was created for a deleted provider: %v", err)
	}
	// Enabled again, alice has no old token back.
	if _, err := b.st.SetUserDisabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if toks, _ := b.st.ListTokens(ctx, u.ID); len(toks) != 0 {
		t.Errorf("enabling revived %d tokens", len(toks))
	}
}
