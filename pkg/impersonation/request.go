package impersonation

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// Request is the identity a client asked to act as (kubectl --as and
// --as-group), read from the canonical Impersonate-User and
// Impersonate-Group headers. It is a request, not a grant: the caller must
// have it approved by the target cluster before forwarding anything.
type Request struct {
	User   string
	Groups []string
}

// MaxGroups bounds the Impersonate-Group values of one request; each costs
// the proxy an access review in the cluster.
const MaxGroups = 20

// MaxNameLen bounds the length in bytes of each user and group name a
// client asks to act as; every name is part of an access review and of the
// approval cache's key.
const MaxNameLen = 512

// Anonymous and Unauthenticated are the apiserver's names for a request
// without credentials. They are never impersonated through Drover: Set adds
// Authenticated to every identity, so "anonymous" would gain the rights of
// every authenticated user.
const (
	Anonymous       = "system:anonymous"
	Unauthenticated = "system:unauthenticated"
)

// serviceAccountPrefix starts the username of every ServiceAccount.
const serviceAccountPrefix = "system:serviceaccount:"

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
// Only the canonical Impersonate-User (exactly one value) and
// Impersonate-Group headers are a request, and only when the client did not
// name them in Connection:. Every other identity-shaped header (any other
// Impersonate-* or X-Remote-* name, a name in another case than the
// canonical one, a hop-by-hop impersonation header, groups without a user)
// is refused with a RequestError: it is never ignored, because ignoring it
// would forward the request as someone the client did not ask to be.
//
// Each name must be a non-empty, valid HTTP header value without leading or
// trailing whitespace and at most MaxNameLen bytes (else 400): HTTP/1.1
// trims header values, so a name with a trailing space would be approved as
// one name and reach the apiserver as another. User Anonymous and group
// Unauthenticated are refused with 403.
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
	for _, k := range keys {
		// An underscore stands for a dash in some proxies' eyes; such a
		// name is refused as what it would become.
		lk := strings.ReplaceAll(strings.ToLower(k), "_", "-")
		switch {
		case k == authenticationv1.ImpersonateUserHeader || k == authenticationv1.ImpersonateGroupHeader:
			if named[lk] {
				return nil, badRequest("header %s is named in Connection; impersonation headers must be end to end", k)
			}
		case strings.HasPrefix(lk, "impersonate-uid"):
			return nil, badRequest("Impersonate-Uid is not supported through Drover; use only --as and --as-group")
		case strings.HasPrefix(lk, "impersonate-extra-"):
			return nil, badRequest("Impersonate-Extra-* headers are not supported through Drover; use only --as and --as-group")
		case lk == "impersonate-user" || lk == "impersonate-group":
			return nil, badRequest("header %q is not in canonical form; send %s", short(k), textproto.CanonicalMIMEHeaderKey(lk))
		case strings.HasPrefix(lk, "impersonate-"):
			return nil, badRequest("impersonation header %q is not supported through Drover", short(k))
		case strings.HasPrefix(lk, "x-remote-"):
			return nil, badRequest("header %q is not accepted: Drover sets the identity downstream", short(k))
		}
	}
	users := h[authenticationv1.ImpersonateUserHeader]
	groups := h[authenticationv1.ImpersonateGroupHeader]
	switch {
	case len(users) == 0 && len(groups) == 0:
		return nil, nil
	case len(users) == 0:
		return nil, badRequest("Impersonate-Group requires Impersonate-User (kubectl --as-group needs --as)")
	case len(users) > 1:
		return nil, badRequest("Impersonate-User must be sent once, got %d values", len(users))
	case len(groups) > MaxGroups:
		return nil, badRequest("at most %d Impersonate-Group values are accepted, got %d", MaxGroups, len(groups))
	}
	if p := nameProblem(users[0]); p != "" {
		return nil, badRequest("Impersonate-User %s", p)
	}
	switch {
	case users[0] == Anonymous:
		return nil, forbidden("impersonating user %s is not supported through Drover: an impersonated user always carries group %s", Anonymous, Authenticated)
	case strings.HasPrefix(users[0], serviceAccountPrefix):
		return nil, forbidden("impersonating a ServiceAccount is not supported through Drover")
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
	return req, nil
}

// nameProblem says why a user or group name a client asked to act as is
// refused, or "" if it is not: it is longer than MaxNameLen or would not
// reach the apiserver as Drover checked it (see valueProblem). The message
// does not quote the name: it may be long or unprintable.
func nameProblem(v string) string {
	if len(v) > MaxNameLen {
		return fmt.Sprintf("is %d bytes long; at most %d are accepted", len(v), MaxNameLen)
	}
	return valueProblem(v)
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

// identityShaped reports whether a header name is, in any case and with
// underscores read as dashes, an Impersonate-* or X-Remote-* name.
func identityShaped(k string) bool {
	lk := strings.ReplaceAll(strings.ToLower(k), "_", "-")
	return strings.HasPrefix(lk, "impersonate-") || strings.HasPrefix(lk, "x-remote-")
}
