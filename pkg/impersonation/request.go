package impersonation

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"unicode/utf8"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// Request is the identity a client asked to act as (kubectl --as,
// --as-group, --as-uid and --as-user-extra), read from the canonical
// Impersonate-User, Impersonate-Group, Impersonate-Uid and
// Impersonate-Extra-<key> headers. It is a request, not a grant: the caller
// must have it approved by the target cluster before forwarding anything.
type Request struct {
	User   string
	Groups []string
	// UID is the requested uid, "" if none.
	UID string
	// Extra are the requested extra values by key, the key decoded as the
	// apiserver decodes it (lower-cased, then percent-unescaped); nil if
	// none.
	Extra map[string][]string
}

// MaxGroups bounds the Impersonate-Group values of one request; each costs
// the proxy an access review in the cluster.
const MaxGroups = 20

// MaxExtraKeys bounds the Impersonate-Extra-* header names of one request,
// and MaxExtraValues the values of one extra key; each value costs the
// proxy an access review in the cluster.
const (
	MaxExtraKeys   = 16
	MaxExtraValues = 16
)

// MaxNameLen bounds the length in bytes of each user, group, uid, extra key
// and extra value a client asks to act as; every one is part of an access
// review and of the approval cache's key.
const MaxNameLen = 512

// Anonymous and Unauthenticated are the apiserver's names for a request
// without credentials. They are never impersonated through Drover: Set adds
// Authenticated to every identity, so "anonymous" would gain the rights of
// every authenticated user.
const (
	Anonymous       = "system:anonymous"
	Unauthenticated = "system:unauthenticated"
)

// DroverExtraPrefix starts the extra keys Drover sets itself (the token,
// the user, the original user of a nested impersonation). A client may
// never ask for one: it would forge Drover's word in the cluster's audit
// log.
const DroverExtraPrefix = "drover.dev/"

// RequestError is why a client's identity headers were refused. Its message
// is safe to send to the client; Code is the HTTP status to answer with.
type RequestError struct {
	Code    int
	Message string
}

func (e *RequestError) Error() string { return e.Message }

func badRequest(format string, args ...any) *RequestError {
	return &RequestError{Code: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *RequestError {
	return &RequestError{Code: http.StatusForbidden, Message: fmt.Sprintf(format, args...)}
}

// ParseRequest reads a client's own identity headers from an inbound
// request's header. It returns nil, nil when the client sent none.
//
// Only the canonical Impersonate-User (exactly one value),
// Impersonate-Group, Impersonate-Uid (one value) and Impersonate-Extra-<key>
// headers are a request, and only when the client did not name them in
// Connection:. Every other identity-shaped header (any other Impersonate-*
// or X-Remote-* name, a name in another case than the canonical one, a
// hop-by-hop impersonation header, groups, a uid or extras without a user)
// is refused with a RequestError: it is never ignored, because ignoring it
// would forward the request as someone the client did not ask to be.
//
// An extra's key is the header name's suffix lower-cased, then
// percent-unescaped (kept as it is if the escapes are malformed), as the
// apiserver reads it; header names that decode to the same key are one key.
// A key in the DroverExtraPrefix space, in any case, is refused with 403.
//
// Each name (user, group, uid, extra key and value) must be a non-empty,
// valid HTTP header value and valid UTF-8 without leading or trailing
// whitespace and at most MaxNameLen bytes (else 400): HTTP/1.1 trims header
// values, so a name with a trailing space would be approved as one name and
// reach the apiserver as another, and a review carries names as JSON
// strings, which have no other bytes than UTF-8. A user
// system:serviceaccount:<ns>:<name> must name a ServiceAccount the
// apiserver would read as one (SplitServiceAccount; else 400). User
// Anonymous and group Unauthenticated are refused with 403.
func ParseRequest(h http.Header) (*Request, error) {
	var keys []string // the identity-shaped names; most requests have none
	for k := range h {
		if identityShaped(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	named := connectionNames(h)
	slices.Sort(keys) // the first offence reported does not depend on map order
	var extraNames []string
	for _, k := range keys {
		// An underscore stands for a dash in some proxies' eyes; such a
		// name is refused as what it would become.
		lk := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		switch {
		case k == authenticationv1.ImpersonateUserHeader || k == authenticationv1.ImpersonateGroupHeader ||
			k == authenticationv1.ImpersonateUIDHeader || canonicalExtra(k):
			if named[lk] {
				return nil, badRequest("header %s is named in Connection; impersonation headers must be end to end", short(k))
			}
			if canonicalExtra(k) {
				extraNames = append(extraNames, k)
			}
		case lk == "impersonate-user" || lk == "impersonate-group" || lk == "impersonate-uid":
			return nil, badRequest("header %q is not in canonical form; send %s", short(k), textproto.CanonicalMIMEHeaderKey(lk))
		case lk == "impersonate-extra-":
			return nil, badRequest("header %q names no extra key", short(k))
		case strings.HasPrefix(lk, "impersonate-extra-"):
			return nil, badRequest("header %q is not in canonical form; send Impersonate-Extra-<key> as kubectl --as-user-extra does", short(k))
		case strings.HasPrefix(lk, "impersonate-"):
			return nil, badRequest("impersonation header %q is not supported through Drover", short(k))
		case strings.HasPrefix(lk, "x-remote-"):
			return nil, badRequest("header %q is not accepted: Drover sets the identity downstream", short(k))
		}
	}
	// Drover's own extras are refused first, whatever else is wrong: a
	// forgery is a forgery.
	for _, k := range extraNames {
		if key := decodeExtraKey(k[len(authenticationv1.ImpersonateUserExtraHeaderPrefix):]); droverExtra(key) {
			return nil, forbidden("Drover sets its own extras: extra %q may not be asked for", short(key))
		}
	}
	users := h[authenticationv1.ImpersonateUserHeader]
	groups := h[authenticationv1.ImpersonateGroupHeader]
	uids := h[authenticationv1.ImpersonateUIDHeader]
	switch {
	case len(users) == 0 && len(groups) == 0 && len(uids) == 0 && len(extraNames) == 0:
		return nil, nil
	case len(users) == 0 && len(groups) > 0:
		return nil, badRequest("Impersonate-Group requires Impersonate-User (kubectl --as-group needs --as)")
	case len(users) == 0 && len(uids) > 0:
		return nil, badRequest("Impersonate-Uid requires Impersonate-User (kubectl --as-uid needs --as)")
	case len(users) == 0:
		return nil, badRequest("Impersonate-Extra-* requires Impersonate-User (kubectl --as-user-extra needs --as)")
	case len(users) > 1:
		return nil, badRequest("Impersonate-User must be sent once, got %d values", len(users))
	case len(groups) > MaxGroups:
		return nil, badRequest("at most %d Impersonate-Group values are accepted, got %d", MaxGroups, len(groups))
	case len(uids) > 1:
		return nil, badRequest("Impersonate-Uid must be sent once, got %d values", len(uids))
	case len(extraNames) > MaxExtraKeys:
		return nil, badRequest("at most %d Impersonate-Extra-* headers are accepted, got %d", MaxExtraKeys, len(extraNames))
	}
	if p := nameProblem(users[0]); p != "" {
		return nil, badRequest("Impersonate-User %s", p)
	}
	switch {
	case users[0] == Anonymous:
		return nil, forbidden("impersonating user %s is not supported through Drover: an impersonated user always carries group %s", Anonymous, Authenticated)
	case strings.HasPrefix(users[0], ServiceAccountPrefix):
		if _, _, ok := SplitServiceAccount(users[0]); !ok {
			return nil, badRequest("Impersonate-User %q is not a ServiceAccount name: want %s<namespace>:<name>, "+
				"the namespace a DNS-1123 label and the name a DNS-1123 subdomain", short(users[0]), ServiceAccountPrefix)
		}
	}
	req := &Request{User: users[0]}
	for i, g := range groups {
		if p := nameProblem(g); p != "" {
			return nil, badRequest("Impersonate-Group value %d %s", i+1, p)
		}
		if g == Unauthenticated {
			return nil, forbidden("impersonating group %s is not supported through Drover: an impersonated user always carries group %s", Unauthenticated, Authenticated)
		}
		if !slices.Contains(req.Groups, g) {
			req.Groups = append(req.Groups, g)
		}
	}
	if len(uids) == 1 {
		if p := nameProblem(uids[0]); p != "" {
			return nil, badRequest("Impersonate-Uid %s", p)
		}
		req.UID = uids[0]
	}
	for _, k := range extraNames {
		if err := req.addExtra(k, h[k]); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// addExtra adds the values of the canonical extra header name to req.
func (req *Request) addExtra(name string, values []string) *RequestError {
	key := decodeExtraKey(name[len(authenticationv1.ImpersonateUserExtraHeaderPrefix):])
	if p := nameProblem(key); p != "" {
		return badRequest("the extra key of header %s %s", short(name), p)
	}
	if n := len(req.Extra[key]) + len(values); n > MaxExtraValues {
		return badRequest("at most %d values of extra %q are accepted, got %d", MaxExtraValues, short(key), n)
	}
	if req.Extra == nil {
		req.Extra = map[string][]string{}
	}
	for i, v := range values {
		if p := nameProblem(v); p != "" {
			return badRequest("extra %q value %d %s", short(key), i+1, p)
		}
		if !slices.Contains(req.Extra[key], v) {
			req.Extra[key] = append(req.Extra[key], v)
		}
	}
	if len(req.Extra[key]) == 0 {
		delete(req.Extra, key) // a header with no value at all asks nothing
	}
	if len(req.Extra) == 0 {
		req.Extra = nil
	}
	return nil
}

// nameProblem says why a user, group, uid, extra key or value a client
// asked to act as is refused, or "" if it is not: it is longer than
// MaxNameLen, is not UTF-8, or would not reach the apiserver as Drover
// checked it (see valueProblem). The message does not quote the name: it
// may be long or unprintable.
func nameProblem(v string) string {
	if len(v) > MaxNameLen {
		return fmt.Sprintf("is %d bytes long; at most %d are accepted", len(v), MaxNameLen)
	}
	if p := valueProblem(v); p != "" {
		return p
	}
	if !utf8.ValidString(v) {
		return "is not valid UTF-8"
	}
	return ""
}

// connectionNames returns the lower-cased header names listed in
// Connection:, in any case of the Connection name itself.
func connectionNames(h http.Header) map[string]bool {
	named := map[string]bool{}
	for k, vs := range h {
		if !strings.EqualFold(k, "Connection") {
			continue
		}
		for _, v := range vs {
			for _, name := range strings.Split(v, ",") {
				if name = textproto.TrimString(name); name != "" {
					named[strings.ToLower(name)] = true
				}
			}
		}
	}
	return named
}

// short keeps a client-chosen name short enough to quote in a message.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Verify reports whether the Impersonate-* and X-Remote-* headers of an
// outbound request are exactly those Set writes for id, so that the last
// look before the wire catches a header Strip or Set failed to handle.
// Authorization is the caller's to check.
func Verify(h http.Header, id Identity) error {
	want := http.Header{}
	if err := Set(want, id); err != nil {
		return err
	}
	for k, vs := range h {
		if !identityShaped(k) {
			continue
		}
		if !slices.Equal(vs, want[k]) {
			return fmt.Errorf("identity header %q is %q, want %q", k, vs, want[k])
		}
	}
	for k := range want {
		if _, ok := h[k]; !ok {
			return fmt.Errorf("identity header %q is missing", k)
		}
	}
	return nil
}

// IdentityShaped reports whether h holds any header that is, in any case
// and with underscores read as dashes, an Impersonate-* or X-Remote-* name.
func IdentityShaped(h http.Header) bool {
	for k := range h {
		if identityShaped(k) {
			return true
		}
	}
	return false
}

// identityShaped reports whether a header name is, in any case and with
// underscores read as dashes, an Impersonate-* or X-Remote-* name.
// It runs on every header of every proxied request, so it folds ASCII in
// place rather than allocating a lowered copy; a name with any other byte
// (which net/http never lets through) takes the Unicode-aware path.
func identityShaped(k string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			lk := strings.ReplaceAll(strings.ToLower(k), "_", "-")
			return strings.HasPrefix(lk, "impersonate-") || strings.HasPrefix(lk, "x-remote-")
		}
	}
	return foldedPrefix(k, "impersonate-") || foldedPrefix(k, "x-remote-")
}

// foldedPrefix reports whether ASCII k starts with prefix (lower case,
// dashes) in any case, an underscore read as a dash.
func foldedPrefix(k, prefix string) bool {
	if len(k) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := k[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
