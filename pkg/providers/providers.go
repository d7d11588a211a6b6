package providers

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
)

// Principal is who a provider says the user is.
type Principal struct {
	// Provider is the Name of the provider that vouched for the user.
	Provider string
	// ID is stable within the provider: the user's DN (LDAP), the ID
	// token's "sub" (OIDC), the numeric user id (GitHub), the user id
	// (local). Bind Drover users to (Provider, ID), never to Username.
	ID string
	// Username is what the user typed or the provider's login name.
	Username    string
	DisplayName string
	// Groups are prefixed with Provider and a colon, sorted, without
	// duplicates; see Groups.
	Groups []string
	// RefreshToken lets Refresh re-read the user without them: an OIDC
	// refresh token or a GitHub access token; empty for LDAP and local.
	RefreshToken Secret
}

// Provider is what every provider does.
type Provider interface {
	// Name is the provider's configured name, also the group prefix.
	Name() string
	// Refresh re-reads p (groups, names) without the user. It returns an
	// error wrapping ErrInvalidCredentials when the user may no longer log
	// in (gone, disabled, token revoked), ErrNoRefresh when p carries
	// nothing to refresh with, and any other error when the provider could
	// not answer (keep p and retry later).
	Refresh(ctx context.Context, p Principal) (Principal, error)
}

// PasswordProvider checks a username and password itself.
type PasswordProvider interface {
	Provider
	Login(ctx context.Context, username, password string) (Principal, error)
	// LoginKey is the form of username the login limits count attempts
	// under: every spelling that the provider (or its directory) matches
	// to the same user has the same key, so no respelling of a name gets
	// a fresh allowance. Keys may merge more spellings than match (a
	// stricter limit), never fewer.
	LoginKey(username string) string
}

// RedirectProvider sends the user's browser to an identity provider and
// finishes on the callback.
type RedirectProvider interface {
	Provider
	// Begin returns the URL to send the browser to, for state (an
	// unguessable value the caller binds to the browser, e.g. in an
	// HttpOnly cookie), and a PKCE verifier the caller keeps secret
	// (server-side, with state) until Finish.
	Begin(ctx context.Context, state string) (authURL, verifier string, err error)
	// Finish completes the flow from the callback's query parameters,
	// checking that they carry state, and exchanging their code with
	// verifier.
	Finish(ctx context.Context, callback url.Values, state, verifier string) (Principal, error)
}

var (
	// ErrInvalidCredentials covers every reason a user is refused: wrong
	// password, unknown or disabled user, a refused or forged callback, a
	// revoked token. Callers answer one generic 401; the wrapped message
	// is for the log.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrNoRefresh: the Principal carries nothing Refresh could use (an
	// OIDC provider that issued no refresh token). Its groups stay until
	// they are older than the caller's bound on stale groups, or the user
	// logs in again.
	ErrNoRefresh = errors.New("nothing to refresh with")
)

// InvalidCredentials returns an error wrapping ErrInvalidCredentials with a
// reason for the log. The reason must not contain a secret.
func InvalidCredentials(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidCredentials, fmt.Sprintf(format, args...))
}

// Secret is a string that does not print: fmt, log/slog and encoding/json
// show "[redacted]". Reveal returns the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret itself, to use or to store encrypted.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return `"` + redacted + `"` }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps the secret out of encoding/json and friends: persist
// Reveal() explicitly.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// nameRE is what a provider name may be: it prefixes every group.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// LocalName is the provider of Drover's own users.
const LocalName = "local"

// reservedNames are provider names no configured provider may take, with
// why: a provider's name prefixes everything it says, and these prefixes
// are identities Drover or Kubernetes give out themselves.
var reservedNames = map[string]string{
	LocalName: "Drover's own users",
	"drover":  `Drover's own identities ("drover:admins" is cluster-admin in every cluster)`,
	"system":  `Kubernetes' "system:" identities`,
}

// reservedPrefixes are the identity spaces no provider may speak in:
// Drover's own users and groups, and Kubernetes' system names.
var reservedPrefixes = []string{"drover:", "system:"}

// Reserved reports whether a username or group (prefixed) lies in a space
// that only Drover or Kubernetes may give out: "drover:" or "system:".
func Reserved(identity string) bool {
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(identity, p) {
			return true
		}
	}
	return false
}

// CheckName validates the name of a configured provider: its syntax, and
// that it is not one of the reserved names "local", "drover" and "system".
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("provider name %q must be 1-32 of a-z 0-9 -, starting with a letter", name)
	}
	if why, ok := reservedNames[name]; ok {
		return fmt.Errorf("provider name %q is reserved for %s", name, why)
	}
	return nil
}

// Limits on what users type, checked before anything reaches a provider.
const (
	MaxUsername = 256
	MaxPassword = 1024
)

// CheckUsername refuses usernames a provider must never see: empty, too
// long, not UTF-8, or with control characters (NUL, CR, LF, ...), which
// have no business in a name and serve only to confuse parsers and logs.
// The error wraps ErrInvalidCredentials.
func CheckUsername(username string) error {
	switch {
	case username == "":
		return InvalidCredentials("empty username")
	case len(username) > MaxUsername:
		return InvalidCredentials("username longer than %d bytes", MaxUsername)
	case !utf8.ValidString(username):
		return InvalidCredentials("username is not UTF-8")
	case strings.ContainsFunc(username, unicode.IsControl):
		return InvalidCredentials("username has control characters")
	}
	return nil
}

// CheckPassword refuses empty and oversized passwords. An empty password
// must never reach LDAP: a simple bind with a DN and no password is an
// "unauthenticated bind" that many servers answer with success. The error
// wraps ErrInvalidCredentials and never contains the password.
func CheckPassword(password string) error {
	switch {
	case password == "":
		return InvalidCredentials("empty password")
	case len(password) > MaxPassword:
		return InvalidCredentials("password longer than %d bytes", MaxPassword)
	}
	return nil
}

// MaxGroups bounds the groups of one Principal: each becomes a header.
const MaxGroups = 1000

// MaxGroupName bounds one group name, prefix excluded.
const MaxGroupName = 1024

// ValidName reports whether n may be a group name or login name (without
// the provider prefix): not empty, at most max bytes, UTF-8, no control
// characters, no leading or trailing space, and a valid HTTP header field
// value. It is sent downstream as an Impersonate-* header value, and
// HTTP/1.1 trims the spaces around a value: "admins " would arrive as
// "admins", a different group. Commas are fine: each group is a header
// line of its own (and LDAP DNs are full of them).
func ValidName(n string, max int) bool {
	return n != "" && len(n) <= max && utf8.ValidString(n) && !strings.ContainsFunc(n, unicode.IsControl) &&
		strings.TrimSpace(n) == n && httpguts.ValidHeaderFieldValue(n)
}

// Groups prefixes names with provider and a colon, dropping what cannot be
// a group (see ValidName; at most MaxGroupName bytes), and returns them
// sorted without duplicates. dropped counts what it left out, for the
// caller to log. More than MaxGroups names is an error: a silently
// shortened list would be a different identity.
func Groups(provider string, names []string) (groups []string, dropped int, err error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !ValidName(n, MaxGroupName) {
			dropped++
			continue
		}
		out = append(out, provider+":"+n)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxGroups {
		return nil, dropped, fmt.Errorf("%d groups, more than the %d allowed", len(out), MaxGroups)
	}
	return out, dropped, nil
}

// ParseCallback checks an OAuth 2.0 authorization response (RFC 6749
// section 4.1.2) against the state the caller sent, and returns its code. A
// refusal by the identity provider, a missing or different state and a
// missing code wrap ErrInvalidCredentials. The state is compared in
// constant time.
func ParseCallback(callback url.Values, state string) (code string, err error) {
	if state == "" {
		return "", errors.New("callback check without a state to compare")
	}
	got := callback.Get("state")
	if len(callback["state"]) != 1 || subtle.ConstantTimeCompare([]byte(got), []byte(state)) != 1 {
		return "", InvalidCredentials("callback state does not match")
	}
	if e := callback.Get("error"); e != "" {
		return "", InvalidCredentials("identity provider refused: %s", SafeCode(e))
	}
	code = callback.Get("code")
	if len(callback["code"]) != 1 || code == "" {
		return "", InvalidCredentials("callback has no code")
	}
	return code, nil
}

// SafeCode keeps an OAuth error code printable in logs: the registered codes
// are short words of [a-z_]; anything else is replaced.
func SafeCode(s string) string {
	if len(s) > 64 {
		return "(invalid error code)"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return "(invalid error code)"
		}
	}
	return s
}
