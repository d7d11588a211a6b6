package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http/httpguts"
)

func TestSecretDoesNotPrint(t *testing.T) {
	const token = "gho_very-secret-token"
	p := Principal{Provider: "github", ID: "1", Username: "alice", Groups: []string{"github:acme"}, RefreshToken: token}
	var out bytes.Buffer
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		fmt.Fprintf(&out, format+"\n", p)
		fmt.Fprintf(&out, format+"\n", p.RefreshToken)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("login", "principal", p, "token", p.RefreshToken)
	slog.New(slog.NewTextHandler(&out, nil)).Info("login", "principal", p, "token", p.RefreshToken)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	if strings.Contains(out.String(), token) {
		t.Errorf("the token was printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[redacted]") || !strings.Contains(out.String(), "alice") {
		t.Errorf("output lost the rest of the principal:\n%s", out.String())
	}
	if p.RefreshToken.Reveal() != token {
		t.Error("Reveal does not return the secret")
	}
}

func TestCheckUsername(t *testing.T) {
	for _, ok := range []string{"alice", "Alice.Liddell@example.org", "dév*)(uid=*", `a\b`, strings.Repeat("a", MaxUsername)} {
		if err := CheckUsername(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\x00", "a\nb", "a\rb", "\tb", "a\x7f", "a\u0085", "\xff", strings.Repeat("a", MaxUsername+1)} {
		if err := CheckUsername(bad); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%q: got %v, want ErrInvalidCredentials", bad, err)
		}
	}
	if err := CheckPassword(""); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("empty password: %v", err)
	}
	if err := CheckPassword(strings.Repeat("p", MaxPassword+1)); !errors.Is(err, ErrInvalidCredentials) || strings.Contains(err.Error(), "ppp") {
		t.Errorf("long password: %v", err)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"ldap", "corp-ad", "oidc2", "github"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "LDAP", "2fa", "a:b", "system", "a b", strings.Repeat("a", 33)} {
		if CheckName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestReservedNames: a provider named "drover" would speak for Drover's own
// identities ("drover:admins" is cluster-admin everywhere), "local" for
// Drover's own users, "system" for Kubernetes.
func TestReservedNames(t *testing.T) {
	for _, name := range []string{"drover", "local", "system"} {
		if err := CheckName(name); err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("%q: %v, want reserved", name, err)
		}
	}
	for _, id := range []string{"drover:admins", "drover:system:controller", "system:masters", "system:serviceaccount:x:y"} {
		if !Reserved(id) {
			t.Errorf("Reserved(%q) = false", id)
		}
	}
	for _, id := range []string{"corp:drover:admins", "droverx:admins", "corp:system:masters", "Drover:admins"} {
		if Reserved(id) {
			t.Errorf("Reserved(%q) = true", id)
		}
	}
}

func TestGroups(t *testing.T) {
	got, dropped, err := Groups("ldap", []string{"cn=b,dc=x", "cn=a,dc=x", "cn=b,dc=x", "", "bad\nname", "\xff"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ldap:cn=a,dc=x", "ldap:cn=b,dc=x"}, got); diff != "" || dropped != 3 {
		t.Errorf("(-want +got):\n%s\ndropped %d, want 3", diff, dropped)
	}
	// HTTP/1.1 trims the spaces around a header value: "admins " would
	// arrive downstream as "admins", another group.
	got, dropped, err = Groups("corp", []string{"admins ", " admins", "admins\t", "\u00a0admins", "admins\u3000",
		"a b", "cn=a, dc=x", "Ünïcödé"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"corp:a b", "corp:cn=a, dc=x", "corp:Ünïcödé"}, got); diff != "" || dropped != 5 {
		t.Errorf("spaces around names (-want +got):\n%s\ndropped %d, want 5", diff, dropped)
	}
	many := make([]string, MaxGroups+1)
	for i := range many {
		many[i] = fmt.Sprint("g", i)
	}
	if _, _, err := Groups("ldap", many); err == nil {
		t.Error("more than MaxGroups accepted")
	}
}

func TestParseCallback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		query   string
		want    string
		wantErr string
	}{
		{"ok", "code=abc&state=s1", "abc", ""},
		{"state mismatch", "code=abc&state=s2", "", "state"},
		{"no state", "code=abc", "", "state"},
		{"two states", "code=abc&state=s1&state=s2", "", "state"},
		{"refused", "error=access_denied&error_description=no&state=s1", "", "access_denied"},
		{"odd error code", "error=%0Aevil%20log%20line&state=s1", "", "invalid error code"},
		{"no code", "state=s1", "", "no code"},
		{"two codes", "code=a&code=b&state=s1", "", "no code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCallback(q, "s1")
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidCredentials) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want ErrInvalidCredentials (%s)", err, tc.wantErr)
			}
		})
	}
	if _, err := ParseCallback(url.Values{"state": {""}, "code": {"c"}}, ""); err == nil {
		t.Error("an empty expected state matched")
	}
}

// FuzzGroups: whatever a provider hands in, the groups that come out are
// prefixed, sorted, unique, printable UTF-8 without control characters.
func FuzzGroups(f *testing.F) {
	f.Add("cn=devs,dc=x", "a\nb", "")
	f.Add("x", "x", "\xff")
	f.Add("admins ", " admins", "a\u0085")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		got, dropped, err := Groups("oidc", []string{a, b, c})
		if err != nil {
			t.Fatal(err)
		}
		if len(got)+dropped > 3 || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("Groups(%q, %q, %q) = %q, dropped %d", a, b, c, got, dropped)
		}
		for _, g := range got {
			if !strings.HasPrefix(g, "oidc:") || len(g) == len("oidc:") || !utf8.ValidString(g) || strings.ContainsFunc(g, unicode.IsControl) ||
				strings.TrimSpace(g) != g || strings.TrimRight(g, " \t") != g || !httpguts.ValidHeaderFieldValue(g) {
				t.Fatalf("unsafe group %q", g)
			}
		}
	})
}
