package ldap

import (
	"strings"
	"testing"
	"unicode/utf8"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"

	"github.com/drover-dev/drover/pkg/providers"
)

func validConfig() Config {
	return Config{
		URL: "ldaps://ldap.example.org", BindDN: "cn=svc,dc=example,dc=org", BindPassword: "secret",
		UserBaseDN: "ou=people,dc=example,dc=org", GroupBaseDN: "ou=groups,dc=example,dc=org",
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantErr string // empty: valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"StartTLS", func(c *Config) { c.URL, c.StartTLS = "ldap://ldap.example.org:389", true }, ""},
		{"plain when told", func(c *Config) { c.URL, c.InsecureNoTLS = "ldap://127.0.0.1:389", true }, ""},
		{"anonymous search", func(c *Config) { c.BindDN, c.BindPassword = "", "" }, ""},
		{"AD defaults", func(c *Config) { c.ActiveDirectory = true }, ""},
		{"bad name", func(c *Config) { c.Name = "LDAP" }, "provider name"},
		{"reserved name", func(c *Config) { c.Name = "system" }, "reserved"},
		{"no URL", func(c *Config) { c.URL = "" }, "scheme"},
		{"http URL", func(c *Config) { c.URL = "https://ldap.example.org" }, "scheme"},
		{"URL with a base DN", func(c *Config) { c.URL = "ldaps://ldap.example.org/dc=example,dc=org" }, "nothing else"},
		{"URL with credentials", func(c *Config) { c.URL = "ldaps://u:p@ldap.example.org" }, "nothing else"},
		{"bad port", func(c *Config) { c.URL = "ldaps://ldap.example.org:99999" }, "port"},
		{"plain without saying so", func(c *Config) { c.URL = "ldap://ldap.example.org" }, "in clear"},
		{"StartTLS on ldaps", func(c *Config) { c.StartTLS = true }, "TLS already"},
		{"bad CA", func(c *Config) { c.CAData = "not PEM" }, "caData"},
		{"unauthenticated bind trap", func(c *Config) { c.BindPassword = "" }, "unauthenticated bind"},
		{"password without DN", func(c *Config) { c.BindDN = "" }, "without bindDN"},
		{"no user base", func(c *Config) { c.UserBaseDN = "" }, "userBaseDN is required"},
		{"bad user base", func(c *Config) { c.UserBaseDN = "not a dn" }, "userBaseDN"},
		{"bad bind DN", func(c *Config) { c.BindDN = "cn" }, "bindDN"},
		{"bad group base", func(c *Config) { c.GroupBaseDN = "=x" }, "groupBaseDN"},
		{"unbalanced filter", func(c *Config) { c.UserFilter = "(objectClass=person" }, "userFilter"},
		{"bare filter", func(c *Config) { c.GroupFilter = "objectClass=group" }, "groupFilter"},
		{"bad disabled filter", func(c *Config) { c.DisabledFilter = "(a=b))" }, "disabledFilter"},
		{"attribute that is a filter", func(c *Config) { c.UsernameAttribute = "uid=*)(cn" }, "usernameAttribute"},
		{"attribute with a space", func(c *Config) { c.MemberAttribute = "member " }, "memberAttribute"},
		{"OID attribute", func(c *Config) { c.DisplayNameAttribute = "2.5.4.3" }, ""},
		{"negative depth", func(c *Config) { c.MaxNestingDepth = -1 }, "maxNestingDepth"},
		{"huge depth", func(c *Config) { c.MaxNestingDepth = 1000 }, "maxNestingDepth"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the bind password", err)
			}
		})
	}
}

func TestADDefaults(t *testing.T) {
	c := Config{ActiveDirectory: true}.withDefaults()
	if c.UsernameAttribute != "sAMAccountName" || c.DisabledFilter != adDisabledFilter || c.GroupFilter != "(objectClass=group)" {
		t.Errorf("AD defaults: %+v", c)
	}
	got := inChainFilter(c, `CN=Smith\, J (ops)*,OU=Users,DC=corp,DC=example`)
	want := `(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Smith\5c, J \28ops\29\2a,OU=Users,DC=corp,DC=example))`
	if got != want {
		t.Errorf("in-chain filter:\n got %s\nwant %s", got, want)
	}
	if _, err := goldap.CompileFilter(got); err != nil {
		t.Errorf("in-chain filter does not compile: %v", err)
	}
}

// equality returns the attribute and the (unescaped) value of an equality
// match packet, or ok=false if p is something else.
func equality(p *ber.Packet) (attr, value string, ok bool) {
	if p.Tag != goldap.FilterEqualityMatch || len(p.Children) != 2 {
		return "", "", false
	}
	return p.Children[0].Data.String(), p.Children[1].Data.String(), true
}

// FuzzUserFilter: whatever the username, the user search filter is UserFilter
// AND one equality on the username attribute whose value is exactly the
// username, nothing more: no wildcard, no extra clause, no parse error.
func FuzzUserFilter(f *testing.F) {
	for _, s := range []string{"alice", "*", "*)(uid=*))(|(uid=*", `\2a`, "a\x00b", "é", `\`, "(", ")", "(|(a=b))", "\xff"} {
		f.Add(s)
	}
	cfg := Config{UserFilter: "(objectClass=person)", UsernameAttribute: "uid"}
	f.Fuzz(func(t *testing.T, username string) {
		if providers.CheckUsername(username) != nil {
			return // Login refuses it before any filter is built
		}
		filter := userFilter(cfg, username)
		p, err := goldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("filter %q for %q: %v", filter, username, err)
		}
		if p.Tag != goldap.FilterAnd || len(p.Children) != 2 {
			t.Fatalf("filter %q for %q: not a two-clause AND", filter, username)
		}
		attr, value, ok := equality(p.Children[1])
		if !ok || attr != "uid" || value != username {
			t.Fatalf("filter %q for %q: second clause is %v %q=%q", filter, username, ok, attr, value)
		}
	})
}

// FuzzMemberFilter: DNs from the server (which may hold any bytes) become
// exactly one equality clause each.
func FuzzMemberFilter(f *testing.F) {
	f.Add("cn=a,dc=x", `cn=Meta (Char)*\2C User\5C,ou=people`)
	f.Add("*", ")(")
	cfg := Config{GroupFilter: "(objectClass=groupOfNames)", MemberAttribute: "member"}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return // go-ldap's filter compiler insists on UTF-8 values
		}
		filter := memberFilter(cfg, []string{a, b})
		p, err := goldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("filter %q: %v", filter, err)
		}
		if p.Tag != goldap.FilterAnd || len(p.Children) != 2 || p.Children[1].Tag != goldap.FilterOr || len(p.Children[1].Children) != 2 {
			t.Fatalf("filter %q: not AND(groupFilter, OR(two clauses))", filter)
		}
		for i, want := range []string{a, b} {
			attr, value, ok := equality(p.Children[1].Children[i])
			if !ok || attr != "member" || value != want {
				t.Fatalf("filter %q: clause %d is %v %q=%q, want member=%q", filter, i, ok, attr, value, want)
			}
		}
	})
}
