package impersonation

import (
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ServiceAccountPrefix starts the username of every ServiceAccount.
const ServiceAccountPrefix = "system:serviceaccount:"

// SplitServiceAccount returns the namespace and name of a ServiceAccount's
// username, system:serviceaccount:<namespace>:<name>, when the apiserver
// would read it as one: the namespace a DNS-1123 label, the name a DNS-1123
// subdomain. Any other user name (ok false) is a plain user to it.
func SplitServiceAccount(user string) (namespace, name string, ok bool) {
	rest, found := strings.CutPrefix(user, ServiceAccountPrefix)
	if !found {
		return "", "", false
	}
	namespace, name, found = strings.Cut(rest, ":")
	if !found || strings.Contains(name, ":") ||
		len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", "", false
	}
	return namespace, name, true
}

// canonicalExtra reports whether k is an Impersonate-Extra-<key> header
// name in the canonical form the apiserver reads (its filter matches the
// prefix case-sensitively on canonical names), with a non-empty key.
func canonicalExtra(k string) bool {
	return len(k) > len(authenticationv1.ImpersonateUserExtraHeaderPrefix) &&
		strings.HasPrefix(k, authenticationv1.ImpersonateUserExtraHeaderPrefix) &&
		httpguts.ValidHeaderFieldName(k) && textproto.CanonicalMIMEHeaderKey(k) == k
}

// decodeExtraKey is the extra key the apiserver reads from the suffix of an
// Impersonate-Extra- header name: lower-cased, then percent-unescaped, or
// only lower-cased if its escapes are malformed.
func decodeExtraKey(suffix string) string {
	lower := strings.ToLower(suffix)
	key, err := url.PathUnescape(lower)
	if err != nil {
		return lower
	}
	return key
}

// droverExtra reports whether key is in Drover's own extra space, in any
// case: the apiserver keeps the case of escaped letters, so
// "%44rover.dev/user-id" is key "Drover.dev/user-id" to it.
func droverExtra(key string) bool {
	return len(key) >= len(DroverExtraPrefix) && strings.EqualFold(key[:len(DroverExtraPrefix)], DroverExtraPrefix)
}

// escapeExtraKey is the header name suffix that the apiserver decodes
// (decodeExtraKey) to exactly k: every byte that may not appear in a header
// name, '%', and every upper-case letter (the apiserver lower-cases the
// suffix before unescaping it) is percent-encoded.
func escapeExtraKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if isTokenChar(c) && c != '%' && (c < 'A' || c > 'Z') {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$&'*+-.^_`|~", c) >= 0
}
