package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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

// TestSecretsDoNotFollowTheEndpoint: a stored bind password or client
// secret is carried over by a PUT that leaves it out only when the
// endpoint (URL, TLS settings, CA) and type are unchanged; otherwise the
// PUT is refused, and a secret can be cleared explicitly.
func TestSecretsDoNotFollowTheEndpoint(t *testing.T) {
	ctx := context.Background()
	const ldapBase = `"bindDN":"cn=svc,dc=example,dc=org","userBaseDN":"ou=people,dc=example,dc=org"`
	for _, tc := range []struct {
		name, typ, first, second string
		opts                     SaveOptions
		wantErr                  string // "" saves
		wantSecret               string // "set" or "unset" after the second save
	}{
		{name: "unchanged endpoint keeps", typ: "ldap",
			first:  `{"url":"ldaps://ldap.example.org","bindPassword":"pw",` + ldapBase + `}`,
			second: `{"url":"ldaps://ldap.example.org","timeout":"5s",` + ldapBase + `}`, wantSecret: "set"},
		{name: "new url", typ: "ldap",
			first:   `{"url":"ldaps://ldap.example.org","bindPassword":"pw",` + ldapBase + `}`,
			second:  `{"url":"ldaps://evil.example.net",` + ldapBase + `}`,
			wantErr: "send bindPassword again: the endpoint changed (url)"},
		{name: "new url, secret sent", typ: "ldap",
			first:  `{"url":"ldaps://ldap.example.org","bindPassword":"pw",` + ldapBase + `}`,
			second: `{"url":"ldaps://ldap2.example.org","bindPassword":"pw2",` + ldapBase + `}`, wantSecret: "set"},
		{name: "startTLS turned on", typ: "ldap",
			first:   `{"url":"ldap://ldap.example.org","startTLS":true,"bindPassword":"pw",` + ldapBase + `}`,
			second:  `{"url":"ldap://ldap.example.org","insecureNoTLS":true,` + ldapBase + `}`,
			wantErr: "the endpoint changed (startTLS)"},
		{name: "serverName", typ: "ldap",
			first:   `{"url":"ldaps://10.0.0.1","bindPassword":"pw",` + ldapBase + `}`,
			second:  `{"url":"ldaps://10.0.0.1","serverName":"evil.example.net",` + ldapBase + `}`,
			wantErr: "the endpoint changed (serverName)"},
		{name: "new url, secret cleared", typ: "ldap",
			first:  `{"url":"ldaps://ldap.example.org","bindPassword":"pw",` + ldapBase + `}`,
			second: `{"url":"ldaps://ldap2.example.org","bindDN":"","userBaseDN":"dc=x"}`,
			opts:   SaveOptions{ClearSecrets: []string{"bindPassword"}}, wantSecret: "unset"},
		{name: "clear with the same endpoint", typ: "ldap",
			first:  `{"url":"ldaps://ldap.example.org","bindPassword":"pw",` + ldapBase + `}`,
			second: `{"url":"ldaps://ldap.example.org","userBaseDN":"dc=x"}`,
			opts:   SaveOptions{ClearSecrets: []string{"bindPassword"}}, wantSecret: "unset"},
		{name: "clear and send", typ: "ldap",
			first:   `{"url":"ldaps://ldap.example.org","bindPassword":"pw",` + ldapBase + `}`,
			second:  `{"url":"ldaps://ldap.example.org","bindPassword":"x",` + ldapBase + `}`,
			opts:    SaveOptions{ClearSecrets: []string{"bindPassword"}},
			wantErr: "both sent and in clearSecrets"},
		{name: "clear an unknown field", typ: "ldap",
			first:   `{"url":"ldaps://ldap.example.org","bindPassword":"pw",` + ldapBase + `}`,
			second:  `{"url":"ldaps://ldap.example.org",` + ldapBase + `}`,
			opts:    SaveOptions{ClearSecrets: []string{"bindDN"}},
			wantErr: "not a secret field"},
		{name: "oidc issuer", typ: "oidc",
			first:   `{"issuerURL":"https://sso.example.org","clientID":"d","clientSecret":"cs","redirectURL":"https://d/cb"}`,
			second:  `{"issuerURL":"https://sso.example.net","clientID":"d","redirectURL":"https://d/cb"}`,
			wantErr: "send clientSecret again: the endpoint changed (issuerURL)"},
		{name: "github enterprise", typ: "github",
			first:   `{"clientID":"d","clientSecret":"cs","redirectURL":"https://d/cb"}`,
			second:  `{"clientID":"d","redirectURL":"https://d/cb","baseURL":"https://ghe.example.net"}`,
			wantErr: "the endpoint changed (baseURL)"},
		{name: "github caData", typ: "github",
			first:   `{"clientID":"d","clientSecret":"cs","redirectURL":"https://d/cb","baseURL":"https://ghe.example.org"}`,
			second:  `{"clientID":"d","redirectURL":"https://d/cb","baseURL":"https://ghe.example.org","caData":"x"}`,
			wantErr: "the endpoint changed (caData)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBed(t)
			if _, err := b.reg.Save(ctx, "corp", tc.typ, []byte(tc.first), SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			info, err := b.reg.Save(ctx, "corp", tc.typ, []byte(tc.second), tc.opts)
			if tc.wantErr != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want a ConfigError containing %q", err, tc.wantErr)
				}
				if kept, _ := b.reg.Info(ctx, "corp"); kept.Config["url"] != nil && kept.Config["url"] != "ldaps://ldap.example.org" &&
					kept.Config["url"] != "ldap://ldap.example.org" && kept.Config["url"] != "ldaps://10.0.0.1" {
					t.Errorf("a refused save changed the config: %v", kept.Config)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range info.Secrets {
				if s != tc.wantSecret {
					t.Errorf("secrets %v, want %s", info.Secrets, tc.wantSecret)
				}
			}
		})
	}
}

// TestSecretsDoNotFollowTheType: OIDC and GitHub share the field
// clientSecret; a type change does not carry it.
func TestSecretsDoNotFollowTheType(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	if _, err := b.reg.Save(ctx, "corp", "oidc", []byte(`{"issuerURL":"https://sso.example.org","clientID":"d","clientSecret":"cs","redirectURL":"https://d/cb"}`), SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := b.reg.Save(ctx, "corp", "github", []byte(`{"clientID":"d","redirectURL":"https://d/cb"}`), SaveOptions{})
	if !strings.Contains(fmt.Sprint(err), "send clientSecret again: the type changed") {
		t.Errorf("type change without the secret: %v", err)
	}
}
