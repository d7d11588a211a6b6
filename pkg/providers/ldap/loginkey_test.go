package ldap

import (
	"testing"

	"github.com/drover-dev/drover/test/idp"
)

func TestLoginKey(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                "alice",
		"  Alice ":             "alice",
		"ALICE":                "alice",
		"Alice  Liddell":       "alice liddell",
		"Alice\u00a0Liddell":   "alice liddell", // no-break space
		"al\u00adice":          "alice",         // soft hyphen
		"al\u200bice":          "alice",         // zero-width space
		"ａｌｉｃｅ":                "alice",         // fullwidth
		"Straße":               "strasse",
		"\u2003alice\u3000":    "alice", // em and ideographic spaces
		"ali\ufe0fce\ufffc":    "alice", // variation selector, object replacement
		"bob":                  "bob",
		"":                     "",
		"   ":                  "",
		"o'brien (ops), x=\\y": "o'brien (ops), x=\\y",
	} {
		if got := LoginKey(in); got != want {
			t.Errorf("LoginKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLoginKeyCoversTheDirectory asks a real slapd: every spelling of a
// name that logs in as the user has the user's key, so no respelling gets
// a fresh login allowance. The padded and cased spellings do log in (the
// directory's matching rules ignore case and outer spaces): that was the
// way around the per-user limit.
func TestLoginKeyCoversTheDirectory(t *testing.T) {
	s := slapd(t)
	byCN := config(s)
	byCN.UsernameAttribute = "cn" // Directory String, caseIgnoreMatch
	for _, tc := range []struct {
		name      string
		cfg       Config
		canonical string
		mustMatch []string // spellings the directory must match
		others    []string // spellings that log in or not; if they do, same key
	}{
		{"uid (IA5String)", config(s), idp.Alice.UID,
			[]string{" alice", "alice ", "  ALICE  ", "Alice"},
			[]string{"al\u00adice", "ａｌｉｃｅ", "al ice", "alice\u200b", "\u00a0alice"}},
		{"cn (Directory String)", byCN, idp.Alice.CN,
			[]string{" Alice Liddell ", "alice liddell", "ALICE  LIDDELL"},
			[]string{"Alice\u00a0Liddell", "Alice\u00adLiddell", "ＡＬＩＣＥ Liddell", "AliceLiddell", "Alice\u2003Liddell"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, tc.cfg)
			want := p.LoginKey(tc.canonical)
			if _, err := p.Login(ctx(t), tc.canonical, idp.Alice.Password); err != nil {
				t.Fatalf("the canonical spelling %q: %v", tc.canonical, err)
			}
			for _, spelling := range append(append([]string{}, tc.mustMatch...), tc.others...) {
				_, err := p.Login(ctx(t), spelling, idp.Alice.Password)
				must := contains(tc.mustMatch, spelling)
				switch {
				case err != nil && must:
					t.Errorf("%q did not log in: %v", spelling, err)
				case err == nil && p.LoginKey(spelling) != want:
					t.Errorf("%q logs in as %q with key %q, not the user's %q", spelling, tc.canonical, p.LoginKey(spelling), want)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
