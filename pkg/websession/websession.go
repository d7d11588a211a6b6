package websession

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// CookieName is the session cookie's name.
	CookieName = "drover_session"
	// CookiePath limits the cookie to the JSON API: assets and the proxy
	// never see it.
	CookiePath = "/v3"
	// CSRFHeader carries the CSRF token on state-changing requests.
	CSRFHeader = "X-CSRF-Token"
	// maxCookie bounds the cookie value looked at (a session JWT is a few
	// hundred bytes).
	maxCookie = 4096
	csrfLabel = "drover console csrf v1\x00"
)

// ErrForbidden is every reason Check refuses; the detail is for logs.
var ErrForbidden = errors.New("cross-site request refused")

// Credential returns the session token of the request's session cookie
// and whether there is exactly one such cookie with a plausible value.
func Credential(r *http.Request) (string, bool) {
	var found string
	n := 0
	for _, c := range r.CookiesNamed(CookieName) {
		n++
		found = c.Value
	}
	if n != 1 || found == "" || len(found) > maxCookie {
		return "", false
	}
	return found, true
}

// CSRFToken is the CSRF token of a session token.
func CSRFToken(session string) string {
	sum := sha256.Sum256([]byte(csrfLabel + session))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Unsafe reports whether a method may change state (anything but GET,
// HEAD and OPTIONS).
func Unsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// Check is the test a request authenticated by the session cookie must
// pass before anything else reads it: a state-changing request must come
// from this server's own origin (SameOrigin) and carry the session's CSRF
// token; a websocket upgrade (a GET) must come from this server's own
// origin; any other GET or HEAD passes (it changes nothing, and another
// site cannot read its answer).
func Check(r *http.Request, session string) error {
	upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	if !Unsafe(r.Method) && !upgrade {
		return nil
	}
	if err := SameOrigin(r); err != nil {
		return err
	}
	if upgrade && !Unsafe(r.Method) {
		return nil
	}
	got := r.Header.Values(CSRFHeader)
	if len(got) != 1 {
		return errors.Join(ErrForbidden, errors.New("no CSRF token"))
	}
	if subtle.ConstantTimeCompare([]byte(got[0]), []byte(CSRFToken(session))) != 1 {
		return errors.Join(ErrForbidden, errors.New("wrong CSRF token"))
	}
	return nil
}

// SameOrigin requires the request's Origin header to name this server as
// the client reached it: https and the request's Host. A request without
// Origin is refused (browsers send it on every state-changing request and
// every websocket); so is "null" (sandboxed frames, redirects across
// origins).
func SameOrigin(r *http.Request) error {
	vals := r.Header.Values("Origin")
	if len(vals) != 1 {
		return errors.Join(ErrForbidden, errors.New("no Origin header, or several"))
	}
	u, err := url.Parse(vals[0])
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.Join(ErrForbidden, errors.New("the Origin header is not an https origin"))
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return errors.Join(ErrForbidden, errors.New("the Origin header names another site"))
	}
	return nil
}

// SetCookie gives the browser the session token, until expires.
func SetCookie(w http.ResponseWriter, session string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: session, Path: CookiePath, Expires: expires,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}

// ClearCookie tells the browser to drop the session cookie.
func ClearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: CookiePath, MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
}
