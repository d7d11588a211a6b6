package oidc

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/providers"
)

func TestValidate(t *testing.T) {
	valid := func() Config {
		return Config{IssuerURL: "https://idp.example.org", ClientID: "drover", RedirectURL: "https://drover.example.org/v3/callback"}
	}
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"valid", func(c *Config) {}, ""},
		{"loopback http issuer", func(c *Config) { c.IssuerURL = "http://127.0.0.1:5556/dex" }, ""},
		{"localhost http redirect", func(c *Config) { c.RedirectURL = "http://localhost:8443/callback" }, ""},
		{"remote http issuer", func(c *Config) { c.IssuerURL = "http://idp.example.org" }, "https"},
		{"relative redirect", func(c *Config) { c.RedirectURL = "/callback" }, "absolute"},
		{"issuer with credentials", func(c *Config) { c.IssuerURL = "https://u:p@idp.example.org" }, "credentials"},
		{"issuer with a query", func(c *Config) { c.IssuerURL = "https://idp.example.org/?sig=s3cret" }, "an issuer has no query"},
		{"no client", func(c *Config) { c.ClientID = "" }, "clientID"},
		{"bad scope", func(c *Config) { c.Scopes = []string{"openid email"} }, "scope"},
		{"bad claim", func(c *Config) { c.GroupsClaim = "my groups" }, "groupsClaim"},
		{"bad CA", func(c *Config) { c.CAData = "nope" }, "caData"},
		{"bad name", func(c *Config) { c.Name = "OIDC" }, "provider name"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "s3cret"):
				t.Fatalf("the error shows a URL's secret: %v", err)
			}
		})
	}
	if got := (Config{Scopes: []string{"email"}}).withDefaults().Scopes; !cmp.Equal(got, []string{"openid", "email"}) {
		t.Errorf("openid is always asked for: got %v", got)
	}
}

func TestPrincipalFromClaims(t *testing.T) {
	cfg := Config{}.withDefaults()
	parse := func(s string) claims {
		var c claims
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		cfg     func(*Config)
		claims  string
		want    providers.Principal
		wantErr string
		invalid bool // ErrInvalidCredentials
	}{
		{name: "list of groups", claims: `{"email":"a@x.org","email_verified":true,"name":"A","groups":["b","a","a"]}`,
			want: providers.Principal{Provider: "oidc", ID: "sub", Username: "a@x.org", DisplayName: "A", Groups: []string{"oidc:a", "oidc:b"}}},
		{name: "one group as a string", claims: `{"email":"a@x.org","email_verified":true,"groups":"admins"}`,
			want: providers.Principal{Provider: "oidc", ID: "sub", Username: "a@x.org", Groups: []string{"oidc:admins"}}},
		{name: "email_verified as a string", claims: `{"email":"a@x.org","email_verified":"true"}`,
			want: providers.Principal{Provider: "oidc", ID: "sub", Username: "a@x.org", Groups: []string{}}},
		{name: "unusable group names dropped", claims: `{"email":"a@x.org","email_verified":true,"groups":["ok","","bad\nname"]}`,
			want: providers.Principal{Provider: "oidc", ID: "sub", Username: "a@x.org", Groups: []string{"oidc:ok"}}},
		{name: "custom claims", cfg: func(c *Config) { c.UsernameClaim, c.GroupsClaim, c.Name = "upn", "roles", "corp" },
			claims: `{"upn":"a@corp","roles":["r"]}`,
			want:   providers.Principal{Provider: "corp", ID: "sub", Username: "a@corp", Groups: []string{"corp:r"}}},
		{name: "unverified email", claims: `{"email":"a@x.org","email_verified":false}`, wantErr: "not verified", invalid: true},
		{name: "email_verified missing", claims: `{"email":"a@x.org"}`, wantErr: "not verified", invalid: true},
		{name: "unverified email allowed", cfg: func(c *Config) { c.InsecureSkipEmailVerified = true }, claims: `{"email":"a@x.org"}`,
			want: providers.Principal{Provider: "oidc", ID: "sub", Username: "a@x.org", Groups: []string{}}},
		{name: "no username claim", claims: `{"name":"A"}`, wantErr: `no "email" claim`},
		{name: "username not a string", claims: `{"email":["a"],"email_verified":true}`, wantErr: "not a string"},
		{name: "username with a newline", claims: `{"email":"a\nb","email_verified":true}`, wantErr: "control", invalid: true},
		{name: "groups not strings", claims: `{"email":"a@x.org","email_verified":true,"groups":[1,2]}`, wantErr: "not a string"},
		{name: "groups an object", claims: `{"email":"a@x.org","email_verified":true,"groups":{"a":1}}`, wantErr: "neither"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			got, _, err := principal(c, "sub", parse(tc.claims))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				if errors.Is(err, providers.ErrInvalidCredentials) != tc.invalid {
					t.Errorf("ErrInvalidCredentials is %v, want %v: %v", !tc.invalid, tc.invalid, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseGroups: any claim value either fails or yields exactly the
// strings JSON says it holds, and never panics.
func FuzzParseGroups(f *testing.F) {
	for _, s := range []string{`["a","b"]`, `"a"`, `null`, ``, `[1]`, `{"a":1}`, `["a",null]`, `[`, `"\u0000"`, ` [ "x" ] `, `true`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := parseGroups(raw)
		if err != nil {
			return
		}
		var list []string
		var one string
		switch {
		case json.Unmarshal(raw, &one) == nil && len(got) == 1 && got[0] == one:
		case json.Unmarshal(raw, &list) == nil && cmp.Equal(got, list, cmpEmpty):
		case len(got) == 0 && (len(trimJSON(raw)) == 0 || string(trimJSON(raw)) == "null"):
		default:
			t.Fatalf("parseGroups(%q) = %q, which JSON does not say", raw, got)
		}
		// Whatever came out, the prefixed groups are safe header values.
		groups, _, err := providers.Groups("oidc", got)
		if err != nil {
			return // too many: refused as a whole
		}
		for _, g := range groups {
			if !strings.HasPrefix(g, "oidc:") || strings.ContainsAny(g, "\x00\r\n") {
				t.Fatalf("unsafe group %q", g)
			}
		}
	})
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal(a, b)
})
