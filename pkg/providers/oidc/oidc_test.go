package oidc

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/oauth2"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/test/idp"
)

// One slapd and one Dex (its LDAP connector backed by that slapd) serve the
// tests that leave the directory as it is; TestRefresh, which changes it,
// starts its own.
type bed struct {
	slapd *idp.Slapd
	dex   *idp.Dex
}

var (
	bedOnce sync.Once
	theBed  bed
	bedErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if theBed.dex != nil {
		theBed.dex.Stop()
	}
	if theBed.slapd != nil {
		theBed.slapd.Stop()
	}
	os.Exit(code)
}

// testBed starts the servers once, failing (never skipping) the test when
// they cannot start; the error says to run `make idp` when one is missing.
func testBed(t *testing.T) bed {
	t.Helper()
	bedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		theBed.slapd, bedErr = idp.StartSlapd(ctx)
		if bedErr != nil {
			return
		}
		theBed.dex, bedErr = idp.StartDex(ctx, idp.DexOptions{LDAP: theBed.slapd})
	})
	if bedErr != nil {
		t.Fatal(bedErr)
	}
	return theBed
}

func config(d *idp.Dex) Config {
	return Config{
		IssuerURL:    d.Issuer,
		ClientID:     d.ClientID,
		ClientSecret: d.ClientSecret,
		RedirectURL:  d.RedirectURL,
		Scopes:       []string{"openid", "profile", "email", "groups", "offline_access"},
		CAData:       string(d.CAData),
		Timeout:      10 * time.Second,
	}
}

func newProvider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	p, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// login runs Begin, Dex's login form and the callback's query.
func login(t *testing.T, p *Provider, d *idp.Dex, connector, user, password string) (cb url.Values, state, verifier string) {
	t.Helper()
	state = "state-" + strings.ReplaceAll(t.Name(), "/", "-")
	authURL, verifier, err := p.Begin(testCtx(t), state)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") != oauth2.S256ChallengeFromVerifier(verifier) || q.Get("nonce") == "" || q.Get("state") != state {
		t.Fatalf("auth URL lacks PKCE S256, nonce or state: %s", authURL)
	}
	if strings.Contains(authURL, verifier) {
		t.Fatal("the auth URL contains the verifier")
	}
	cb, err = d.Login(testCtx(t), authURL, connector, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return cb, state, verifier
}

func TestCodeFlow(t *testing.T) {
	b := testBed(t)
	ignore := cmpopts.IgnoreFields(providers.Principal{}, "ID", "RefreshToken")
	for _, tc := range []struct {
		name                      string
		usernameClaim             string
		connector, user, password string
		want                      providers.Principal
	}{
		{
			name: "LDAP user, groups claim mapped", connector: idp.DexLDAPConnector, user: idp.Alice.UID, password: idp.Alice.Password,
			// Dex's LDAP connector names direct groups by cn (no nesting).
			want: providers.Principal{Provider: "oidc", Username: idp.Alice.Mail, DisplayName: idp.Alice.CN, Groups: []string{"oidc:devs"}},
		},
		{
			name: "LDAP user by preferred_username", usernameClaim: "preferred_username", connector: idp.DexLDAPConnector, user: idp.Bob.UID, password: idp.Bob.Password,
			want: providers.Principal{Provider: "oidc", Username: idp.Bob.UID, DisplayName: idp.Bob.CN, Groups: []string{"oidc:loop-a", "oidc:ops"}},
		},
		{
			name: "static user, no groups", connector: idp.DexLocalConnector, user: idp.DexStaticUser.Email, password: idp.DexStaticUser.Password,
			want: providers.Principal{Provider: "oidc", Username: idp.DexStaticUser.Email, DisplayName: idp.DexStaticUser.Username, Groups: []string{}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(b.dex)
			cfg.UsernameClaim = tc.usernameClaim
			p := newProvider(t, cfg)
			cb, state, verifier := login(t, p, b.dex, tc.connector, tc.user, tc.password)
			got, err := p.Finish(testCtx(t), cb, state, verifier)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, ignore, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			if got.ID == "" || got.RefreshToken == "" {
				t.Errorf("want a subject and a refresh token, got ID %q and an empty refresh token: %v", got.ID, got.RefreshToken == "")
			}

			// The code is single-use: a replay is the user's problem, not the issuer's.
			if _, err := p.Finish(testCtx(t), cb, state, verifier); !errors.Is(err, providers.ErrInvalidCredentials) {
				t.Errorf("replayed code: got %v, want ErrInvalidCredentials", err)
			}
		})
	}
}

func TestFinishRefused(t *testing.T) {
	b := testBed(t)
	p := newProvider(t, config(b.dex))

	t.Run("state mismatch", func(t *testing.T) {
		cb, _, verifier := login(t, p, b.dex, idp.DexLDAPConnector, idp.Alice.UID, idp.Alice.Password)
		if _, err := p.Finish(testCtx(t), cb, "another-state", verifier); !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), "state") {
			t.Errorf("got %v, want ErrInvalidCredentials (state)", err)
		}
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		cb, state, _ := login(t, p, b.dex, idp.DexLDAPConnector, idp.Alice.UID, idp.Alice.Password)
		_, other, err := p.Begin(testCtx(t), state)
		if err != nil {
			t.Fatal(err)
		}
		// Dex checks the verifier against the challenge and refuses.
		if _, err := p.Finish(testCtx(t), cb, state, other); !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("got %v, want ErrInvalidCredentials", err)
		}
	})
	t.Run("nonce mismatch", func(t *testing.T) {
		// A correct PKCE challenge with another nonce: Dex issues the code
		// and an ID token with that nonce; Finish must refuse it.
		authURL, verifier, err := p.Begin(testCtx(t), "state-n")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(authURL)
		q := u.Query()
		q.Set("nonce", "attacker-chosen")
		u.RawQuery = q.Encode()
		cb, err := b.dex.Login(testCtx(t), u.String(), idp.DexLDAPConnector, idp.Alice.UID, idp.Alice.Password)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Finish(testCtx(t), cb, "state-n", verifier); !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), "nonce") {
			t.Errorf("got %v, want ErrInvalidCredentials (nonce)", err)
		}
	})
	t.Run("issuer refused", func(t *testing.T) {
		cb := url.Values{"state": {"s"}, "error": {"access_denied"}, "error_description": {"no"}}
		if _, err := p.Finish(testCtx(t), cb, "s", "v"); !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), "access_denied") {
			t.Errorf("got %v, want ErrInvalidCredentials (access_denied)", err)
		}
	})
	t.Run("forged code", func(t *testing.T) {
		cb := url.Values{"state": {"s"}, "code": {"forged"}}
		if _, err := p.Finish(testCtx(t), cb, "s", oauth2.GenerateVerifier()); !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("got %v, want ErrInvalidCredentials", err)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		cfg := config(b.dex)
		cfg.ClientSecret = "wrong"
		p := newProvider(t, cfg)
		cb, state, verifier := login(t, p, b.dex, idp.DexLDAPConnector, idp.Alice.UID, idp.Alice.Password)
		_, err := p.Finish(testCtx(t), cb, state, verifier)
		if err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("got %v, want a configuration error, not the user's", err)
		}
		if err != nil && strings.Contains(err.Error(), cb.Get("code")) {
			t.Errorf("error %q contains the code", err)
		}
	})
	t.Run("issuer's CA not trusted", func(t *testing.T) {
		cfg := config(b.dex)
		cfg.CAData = string(b.slapd.CAData) // a CA, but not Dex's
		_, _, err := newProvider(t, cfg).Begin(testCtx(t), "s")
		if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Errorf("got %v, want a certificate error", err)
		}
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		cfg := config(b.dex)
		cfg.IssuerURL = strings.Replace(b.dex.Issuer, "127.0.0.1", "localhost", 1)
		_, _, err := newProvider(t, cfg).Begin(testCtx(t), "s")
		if err == nil || !strings.Contains(err.Error(), "issuer") {
			t.Errorf("got %v, want an issuer mismatch", err)
		}
	})
}

// TestRefresh re-reads groups through Dex, which asks LDAP again.
func TestRefresh(t *testing.T) {
	s := idp.StartSlapdT(t)
	b := bed{slapd: s, dex: idp.StartDexT(t, idp.DexOptions{LDAP: s})}
	p := newProvider(t, config(b.dex))
	cb, state, verifier := login(t, p, b.dex, idp.DexLDAPConnector, idp.Bob.UID, idp.Bob.Password)
	bob, err := p.Finish(testCtx(t), cb, state, verifier)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Refresh(testCtx(t), bob)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(bob.Groups, got.Groups); diff != "" || got.ID != bob.ID {
		t.Errorf("refresh changed the principal (-want +got):\n%s", diff)
	}
	if got.RefreshToken == bob.RefreshToken {
		t.Error("Dex rotates refresh tokens; got the same one back")
	}
	// The old refresh token is spent.
	if _, err := p.Refresh(testCtx(t), bob); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("refresh with a spent token: got %v, want ErrInvalidCredentials", err)
	}
	bob = got

	// Bob leaves loop-a in the directory; the next refresh drops it.
	admin, err := b.slapd.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	del := goldap.NewModifyRequest(idp.GroupLoopA, nil)
	del.Delete("member", []string{idp.Bob.DN()})
	if err := admin.Modify(del); err != nil {
		t.Fatal(err)
	}
	if bob, err = p.Refresh(testCtx(t), bob); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"oidc:ops"}, bob.Groups); diff != "" {
		t.Errorf("groups after leaving loop-a (-want +got):\n%s", diff)
	}

	// Nothing to refresh with.
	noToken := bob
	noToken.RefreshToken = ""
	if _, err := p.Refresh(testCtx(t), noToken); !errors.Is(err, providers.ErrNoRefresh) {
		t.Errorf("got %v, want ErrNoRefresh", err)
	}
	// Another provider's principal.
	if _, err := p.Refresh(testCtx(t), providers.Principal{Provider: "ldap", ID: bob.ID, RefreshToken: bob.RefreshToken}); err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("got %v, want a plain error", err)
	}

	// Bob is deleted: Dex's LDAP connector fails the refresh, and Dex
	// answers 500 (it cannot tell "gone" from "LDAP down"), so this is
	// an error to retry, not ErrInvalidCredentials; the caller's bound on
	// how long unrefreshed groups stay valid ends his session.
	if err := admin.Del(goldap.NewDelRequest(idp.Bob.DN(), nil)); err != nil {
		t.Fatal(err)
	}
	if _, err = p.Refresh(testCtx(t), bob); err == nil {
		t.Fatal("refresh of a deleted user succeeded")
	}
}
