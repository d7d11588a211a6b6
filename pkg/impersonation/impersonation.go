package impersonation

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"golang.org/x/net/http/httpguts"
	authenticationv1 "k8s.io/api/authentication/v1"
)

// Identity is who the downstream apiserver should see.
type Identity struct {
	User   string
	Groups []string
	// UID is the uid to impersonate, "" for none.
	UID   string
	Extra map[string][]string
}

// Authenticated is the group every impersonated user carries.
const Authenticated = "system:authenticated"

// ErrNoIdentity means there is no user to impersonate.
var ErrNoIdentity = errors.New("no identity to impersonate")

// ErrInvalidIdentity means a user, group or extra of an identity would not
// reach the apiserver as Drover checked it.
var ErrInvalidIdentity = errors.New("identity cannot be sent as HTTP header values")

// valueProblem says why v may not be an identity header value, or "" if it
// may. A value must reach the apiserver byte for byte as Drover checked it:
// HTTP/1.1 (every upgrade, and Go's client on any request) trims leading
// and trailing spaces and tabs, so "corp:admins " would arrive as
// "corp:admins"; a character invalid in a header value is rejected or
// rewritten on the way; an empty value is no identity at all.
func valueProblem(v string) string {
	switch {
	case v == "":
		return "is empty"
	case !httpguts.ValidHeaderFieldValue(v):
		return "has a character not allowed in an HTTP header value"
	case v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t':
		return "has leading or trailing whitespace"
	}
	return ""
}

// Validate reports whether every user, group and extra of id can be sent
// downstream unchanged; Set refuses id when it cannot.
func (id Identity) Validate() error {
	if id.User == "" {
		return ErrNoIdentity
	}
	if p := valueProblem(id.User); p != "" {
		return fmt.Errorf("%w: user %q %s", ErrInvalidIdentity, short(id.User), p)
	}
	for _, g := range id.Groups {
		if p := valueProblem(g); p != "" {
			return fmt.Errorf("%w: group %q %s", ErrInvalidIdentity, short(g), p)
		}
	}
	if id.UID != "" {
		if p := valueProblem(id.UID); p != "" {
			return fmt.Errorf("%w: uid %q %s", ErrInvalidIdentity, short(id.UID), p)
		}
	}
	for k, vs := range id.Extra {
		if k == "" {
			return fmt.Errorf("%w: an extra has an empty key", ErrInvalidIdentity)
		}
		for _, v := range vs {
			if p := valueProblem(v); p != "" {
				return fmt.Errorf("%w: extra %q: value %q %s", ErrInvalidIdentity, short(k), short(v), p)
			}
		}
	}
	return nil
}

// bearerSubprotocol is the prefix of the websocket subprotocol that
// carries a bearer token to kube-apiserver (for browsers, which cannot set
// Authorization on a websocket), lower case.
const bearerSubprotocol = "base64url.bearer.authorization.k8s.io."

// Strip deletes every header of h that could carry or change identity, and
// every header named in Connection: (hop-by-hop by the client's own word).
// A websocket subprotocol carrying a bearer token is removed from
// Sec-WebSocket-Protocol (the header goes when nothing else is left): the
// apiserver would read it as a credential beside the one Drover sets.
func Strip(h http.Header) {
	for name := range connectionNames(h) {
		deleteFold(h, name)
	}
	deleteFold(h, "Connection")
	for k, vs := range h {
		// identityShaped: the prefixes in any case, an underscore read
		// as a dash; no lowered copy of every name of every request.
		switch {
		case identityShaped(k) || strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Proxy-Authorization"):
			delete(h, k)
		case strings.EqualFold(k, "Sec-WebSocket-Protocol"):
			stripBearerSubprotocols(h, k, vs)
		}
	}
}

// stripBearerSubprotocols removes bearerSubprotocol offers from h's
// Sec-WebSocket-Protocol values vs, under key k (any spelling).
func stripBearerSubprotocols(h http.Header, k string, vs []string) {
	var keep []string
	for _, v := range vs {
		var offers []string
		for o := range strings.SplitSeq(v, ",") {
			o = strings.TrimSpace(o)
			if o != "" && !foldedPrefix(o, bearerSubprotocol) {
				offers = append(offers, o)
			}
		}
		if len(offers) > 0 {
			keep = append(keep, strings.Join(offers, ", "))
		}
	}
	if len(keep) == 0 {
		delete(h, k)
	} else {
		h[k] = keep
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
// must have called Strip first. It writes nothing and returns an error if
// id does not Validate: the caller must then refuse the request.
//
// The groups are id's and Authenticated, except for a ServiceAccount user
// (SplitServiceAccount) with no groups: then no Impersonate-Group is
// written, and the apiserver gives the account its own groups
// (system:serviceaccounts, system:serviceaccounts:<namespace> and
// Authenticated). Impersonate-Uid is written when id has a uid; each extra
// key is escaped so that the apiserver decodes it to exactly that key.
func Set(h http.Header, id Identity) error {
	if err := id.Validate(); err != nil {
		return err
	}
	h.Set(authenticationv1.ImpersonateUserHeader, id.User)
	if _, _, sa := SplitServiceAccount(id.User); !sa || len(id.Groups) > 0 {
		groups := make([]string, 0, len(id.Groups)+1)
		seen := map[string]bool{}
		for _, g := range append(append([]string{}, id.Groups...), Authenticated) {
			if !seen[g] {
				seen[g] = true
				groups = append(groups, g)
			}
		}
		h[authenticationv1.ImpersonateGroupHeader] = groups
	}
	if id.UID != "" {
		h.Set(authenticationv1.ImpersonateUIDHeader, id.UID)
	}
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
