package ldap

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// LoginKey implements providers.PasswordProvider: see the package function.
func (p *Provider) LoginKey(username string) string { return LoginKey(username) }

// LoginKey is the form of a login name under which the directory's
// matching rules for names count it as the same name: uid's
// caseIgnoreIA5Match, and caseIgnoreMatch for a UsernameAttribute of
// Directory String syntax (cn, or Active Directory's sAMAccountName), both
// prepared as RFC 4518 says. Characters those map to nothing (soft hyphen,
// zero-width and other format characters, variation selectors, the
// combining grapheme joiner, the object replacement character) are
// dropped, the rest is NFKC-normalised and case-folded, and spaces are
// insignificant at both ends and count once inside. " Alice ", "ALICE"
// and "al\u00adice" have the key of "alice"; so a padded or respelled name
// is limited with the name the directory finds.
func LoginKey(username string) string {
	s := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(username)))
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case mappedToNothing(r):
			continue
		case unicode.IsSpace(r) || unicode.Is(unicode.Zs, r):
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// mappedToNothing: RFC 4518 section 2.2's characters mapped to nothing,
// widened to every format character and control (no name has them).
func mappedToNothing(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) || unicode.IsControl(r) && !unicode.IsSpace(r) ||
		r == '\u034F' || r == '\u1806' || r == '\uFFFC'
}
