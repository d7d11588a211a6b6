package impersonation

import (
	"errors"
	"net/http"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// Identity is who the downstream apiserver should see.
type Identity struct {
	User   string
	Groups []string
	Extra  map[string][]string
}

// Authenticated is the group every impersonated user carries.
const Authenticated = "system:authenticated"

// ErrNoIdentity means there is no user to impersonate.
var ErrNoIdentity = errors.New("no identity to impersonate")

// stripPrefixes are lower-case prefixes of header names a client may never
// send downstream.
var stripPrefixes = []string{"impersonate-", "x-remote-"}

// stripNames are lower-case header names a client may never send downstream.
var stripNames = map[string]bool{"authorization": true, "proxy-authorization": true}

// Strip deletes every header of h that could carry or change identity, and
// every header named in Connection: (hop-by-hop by the client's own word).
func Strip(h http.Header) {
	for name := range connectionNames(h) {
		deleteFold(h, name)
	}
	deleteFold(h, "Connection")
	for k := range h {
		lk := strings.ToLower(k)
		if stripNames[lk] {
			delete(h, k)
			continue
		}
		for _, p := range stripPrefixes {
			if strings.HasPrefix(lk, p) {
				delete(h, k)
				break
			}
		}
	}
}

// deleteFold deletes name in any case, including keys a non-canonicalizing
// writer may have put in the map.
func deleteFold(h http.Header, name string) {
	for k := range h {
		if strings.EqualFold(k, name) {
			delete(h, k)
		}
	}
}

// Set writes id as impersonation headers, replacing any present. The caller
// must have called Strip first.
func Set(h http.Header, id Identity) error {
	if id.User == "" {
		return ErrNoIdentity
	}
	h.Set(authenticationv1.ImpersonateUserHeader, id.User)
	groups := make([]string, 0, len(id.Groups)+1)
	seen := map[string]bool{}
	for _, g := range append(append([]string{}, id.Groups...), Authenticated) {
		if g != "" && !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	h[authenticationv1.ImpersonateGroupHeader] = groups
	keys := make([]string, 0, len(id.Extra))
	for k := range id.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h[authenticationv1.ImpersonateUserExtraHeaderPrefix+escapeExtraKey(k)] = append([]string(nil), id.Extra[k]...)
	}
	return nil
}

// escapeExtraKey percent-encodes every byte that may not appear in a header
// name, as the apiserver expects (it lower-cases and unescapes the key).
func escapeExtraKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if isTokenChar(c) && c != '%' {
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
