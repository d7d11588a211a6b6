package ldap

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/test/idp"
)

// One slapd serves the tests that only read; tests that change the
// directory start their own.
var (
	sharedOnce  sync.Once
	shared      *idp.Slapd
	sharedError error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// slapd returns the shared server, failing the test (never skipping it) when
// it cannot start; the error says to run `make idp` when slapd is missing.
func slapd(t *testing.T) *idp.Slapd {
	t.Helper()
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared, sharedError = idp.StartSlapd(ctx)
	})
	if sharedError != nil {
		t.Fatal(sharedError)
	}
	return shared
}

func config(s *idp.Slapd) Config {
	return Config{
		URL:            s.LDAPSURL,
		CAData:         string(s.CAData),
		BindDN:         idp.ServiceDN,
		BindPassword:   idp.ServicePassword,
		UserBaseDN:     idp.PeopleDN,
		UserFilter:     idp.UserFilter,
		DisabledFilter: idp.DisabledFilter,
		GroupBaseDN:    idp.GroupsDN,
		Timeout:        5 * time.Second,
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

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func prefixed(dns ...string) []string {
	out := make([]string, len(dns))
	for i, dn := range dns {
		out[i] = "ldap:" + dn
	}
	return out
}

func sameDN(t *testing.T, got, want string) {
	t.Helper()
	g, err := goldap.ParseDN(got)
	if err != nil {
		t.Fatalf("DN %q: %v", got, err)
	}
	w, err := goldap.ParseDN(want)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Equal(w) {
		t.Errorf("DN: got %q, want %q", got, want)
	}
}

func TestLogin(t *testing.T) {
	s := slapd(t)
	p := newProvider(t, config(s))
	nested := prefixed(idp.GroupAdmins, idp.GroupDevs, idp.GroupPlatform)
	for _, tc := range []struct {
		name, username   string
		user             idp.User
		wantUser, wantDN string
		groups           []string
	}{
		{"direct and nested groups", "alice", idp.Alice, "alice", idp.Alice.DN(), nested},
		{"the directory's spelling of the name", "ALICE", idp.Alice, "alice", idp.Alice.DN(), nested},
		{"a group cycle ends", "bob", idp.Bob, "bob", idp.Bob.DN(), prefixed(idp.GroupLoopA, idp.GroupLoopB, idp.GroupOps)},
		{"filter metacharacters in the name and DN", idp.Meta.UID, idp.Meta, idp.Meta.UID, idp.Meta.DN(), nested},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Login(ctx(t), tc.username, tc.user.Password)
			if err != nil {
				t.Fatal(err)
			}
			sameDN(t, got.ID, tc.wantDN)
			want := providers.Principal{Provider: "ldap", ID: got.ID, Username: tc.wantUser, DisplayName: tc.user.CN, Groups: tc.groups}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoginRefused(t *testing.T) {
	s := slapd(t)
	p := newProvider(t, config(s))
	for _, tc := range []struct {
		name, username, password, reason string
	}{
		{"wrong password", "alice", "alice-password-2", "wrong password"},
		{"unknown user", "nobody", "whatever-password", "no user"},
		// Carol's password is right and slapd would let her bind (the
		// test directory has no default password policy): the refusal is
		// the provider's DisabledFilter check, before the password.
		{"disabled user", "carol", idp.Carol.Password, "disabled"},
		{"empty password", "alice", "", "empty password"},
		{"empty username", "", "x", "empty username"},
		{"NUL in the username", "alice\x00", idp.Alice.Password, "control characters"},
		{"newline in the username", "alice\nuid=bob", idp.Alice.Password, "control characters"},
		{"oversized username", strings.Repeat("a", providers.MaxUsername+1), "x", "longer than"},
		// Filter injection: each would match Alice or everyone if the
		// username were not escaped. Alice's password is sent with each.
		{"wildcard", "*", idp.Alice.Password, "no user"},
		{"prefix wildcard", "ali*", idp.Alice.Password, "no user"},
		{"injected OR", "*)(uid=*))(|(uid=*", idp.Alice.Password, "no user"},
		{"closing the equality early", "alice)(|(uid=*", idp.Alice.Password, "no user"},
		{"injected objectClass", "*)(objectClass=*", idp.Alice.Password, "no user"},
		{"escaped star", `\2a`, idp.Alice.Password, "no user"},
		{"Meta's name with a wildcard", strings.Replace(idp.Meta.UID, "*", "", 1) + "*", idp.Meta.Password, "no user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Login(ctx(t), tc.username, tc.password)
			if !errors.Is(err, providers.ErrInvalidCredentials) {
				t.Fatalf("got %v, want ErrInvalidCredentials", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			if tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
	// None of it broke anything.
	if _, err := p.Login(ctx(t), "alice", idp.Alice.Password); err != nil {
		t.Errorf("login after the refusals: %v", err)
	}
}

func TestTransports(t *testing.T) {
	s := slapd(t)
	other, err := idp.StartSlapd(ctx(t)) // for a CA that is not s's
	if err != nil {
		t.Fatal(err)
	}
	other.Stop()
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantErr string // empty: login works
	}{
		{"ldaps with the CA", func(c *Config) {}, ""},
		{"StartTLS with the CA", func(c *Config) { c.URL, c.StartTLS = s.URL, true }, ""},
		{"plain LDAP when told", func(c *Config) { c.URL, c.CAData, c.InsecureNoTLS = s.URL, "", true }, ""},
		{"ldaps with another CA", func(c *Config) { c.CAData = string(other.CAData) }, "certificate signed by unknown authority"},
		{"StartTLS with another CA", func(c *Config) { c.URL, c.StartTLS, c.CAData = s.URL, true, string(other.CAData) }, "certificate signed by unknown authority"},
		{"ldaps with the system roots", func(c *Config) { c.CAData = "" }, "certificate signed by unknown authority"},
		{"a name the certificate lacks", func(c *Config) { c.ServerName = "ldap.example.org" }, "certificate is valid for"},
		{"wrong service password", func(c *Config) { c.BindPassword = "wrong" }, "service account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(s)
			tc.mutate(&cfg)
			p := newProvider(t, cfg)
			_, err := p.Login(ctx(t), "alice", idp.Alice.Password)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
			case tc.wantErr != "" && errors.Is(err, providers.ErrInvalidCredentials):
				t.Fatalf("%v: a server or configuration problem is not the user's fault", err)
			}
		})
	}
}

func TestNestingDepth(t *testing.T) {
	s := slapd(t)
	for depth, want := range map[int][]string{
		1: prefixed(idp.GroupDevs),
		2: prefixed(idp.GroupDevs, idp.GroupPlatform),
		3: prefixed(idp.GroupAdmins, idp.GroupDevs, idp.GroupPlatform),
	} {
		cfg := config(s)
		cfg.MaxNestingDepth = depth
		got, err := newProvider(t, cfg).Login(ctx(t), "alice", idp.Alice.Password)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got.Groups); diff != "" {
			t.Errorf("depth %d (-want +got):\n%s", depth, diff)
		}
	}
}

// TestRefresh changes the directory under a logged-in user.
func TestRefresh(t *testing.T) {
	s := idp.StartSlapdT(t)
	p := newProvider(t, config(s))
	alice, err := p.Login(ctx(t), "alice", idp.Alice.Password)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := p.Login(ctx(t), "bob", idp.Bob.Password)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	// Unchanged directory: the same principal.
	got, err := p.Refresh(ctx(t), alice)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(alice, got); diff != "" {
		t.Errorf("refresh (-want +got):\n%s", diff)
	}

	// Alice leaves devs: she loses devs and what it brought (platform, admins).
	del := goldap.NewModifyRequest(idp.GroupDevs, nil)
	del.Delete("member", []string{idp.Alice.DN()})
	if err := admin.Modify(del); err != nil {
		t.Fatal(err)
	}
	if got, err = p.Refresh(ctx(t), alice); err != nil {
		t.Fatal(err)
	}
	if len(got.Groups) != 0 {
		t.Errorf("groups after leaving devs: %v, want none", got.Groups)
	}

	// Alice is locked: refresh refuses her.
	lock := goldap.NewModifyRequest(idp.Alice.DN(), nil)
	lock.Add("pwdAccountLockedTime", []string{"000001010000Z"})
	if err := admin.Modify(lock); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Refresh(ctx(t), alice); !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("refresh of a locked user: got %v, want ErrInvalidCredentials (disabled)", err)
	}

	// Bob is deleted: refresh refuses him.
	if err := admin.Del(goldap.NewDelRequest(idp.Bob.DN(), nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Refresh(ctx(t), bob); !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("refresh of a deleted user: got %v, want ErrInvalidCredentials (gone)", err)
	}

	// Another provider's principal is not this provider's to refresh.
	if _, err := p.Refresh(ctx(t), providers.Principal{Provider: "oidc", ID: idp.Alice.DN()}); err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("refresh of another provider's principal: got %v, want a plain error", err)
	}

	// The server is down: an error, but not "log the user out".
	s.Stop()
	if _, err := p.Refresh(ctx(t), alice); err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("refresh with the server down: got %v, want a plain error", err)
	}
}

// TestTimeout: a server that accepts connections and never answers costs
// one Timeout, not a hung login.
func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"ldaps handshake", Config{URL: "ldaps://" + l.Addr().String()}},
		{"plain bind", Config{URL: "ldap://" + l.Addr().String(), InsecureNoTLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.UserBaseDN, cfg.Timeout = idp.PeopleDN, 300*time.Millisecond
			cfg.BindDN, cfg.BindPassword = idp.ServiceDN, idp.ServicePassword
			p := newProvider(t, cfg)
			start := time.Now()
			_, err := p.Login(ctx(t), "alice", "password")
			if err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
				t.Fatalf("got %v, want a timeout error", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s with a 300ms timeout", d)
			}
		})
	}
	// A cancelled context ends a login at once too.
	p := newProvider(t, Config{URL: "ldap://" + l.Addr().String(), InsecureNoTLS: true, UserBaseDN: idp.PeopleDN, Timeout: time.Minute})
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := p.Login(c, "alice", "password"); err == nil {
		t.Fatal("login against a silent server succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancelled login took %s", d)
	}
}
