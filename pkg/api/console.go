package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/websession"
)

// How a login session reaches its client. The API's clients get the
// token in the answer; the console (package websession) gets a cookie it
// cannot read and the CSRF token that goes with it.
type delivery int

const (
	deliverToken delivery = iota
	// deliverCookie answers a password login: the cookie and
	// consoleSession as JSON.
	deliverCookie
	// deliverCookieRedirect ends a redirect login (OIDC, GitHub): the
	// cookie and a redirect to the console.
	deliverCookieRedirect
)

// sessionCookie is the "session" value of a login or begin request that
// asks for the console's cookie.
const sessionCookie = "cookie"

// consoleLoginCookie marks a redirect login the console began, so its
// callback answers with the session cookie and a redirect rather than
// JSON. It only chooses the answer's form: the claim still binds the login
// to the browser that began it.
const consoleLoginCookie = "drover_console_login"

// consoleHome and consoleLoginPage are where a redirect login sends the
// browser back to.
const (
	consoleHome      = "/#/clusters"
	consoleLoginPage = "/#/login"
)

// deliveryOf reads a login request's "session": "" or "cookie". A cookie
// is only set for this server's own pages (websession.SameOrigin): another
// site must not log a browser in to an account of its choosing. Anything
// else is answered (400, 403) and ok is false.
func deliveryOf(w http.ResponseWriter, r *http.Request, session string) (delivery, bool) {
	switch session {
	case "":
		return deliverToken, true
	case sessionCookie:
		if err := websession.SameOrigin(r); err != nil {
			apierr.Forbidden(w, "a login with \"session\": \"cookie\" must come from this server's console (its Origin)")
			return 0, false
		}
		return deliverCookie, true
	default:
		apierr.BadRequest(w, "session must be \"cookie\" or left out, not %q", session)
		return 0, false
	}
}

// consoleSession is what a cookie login answers: never the token.
type consoleSession struct {
	User      consoleUser `json:"user"`
	CSRFToken string      `json:"csrfToken"`
	ExpiresAt time.Time   `json:"expiresAt"`
}

type consoleUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Admin    bool   `json:"admin"`
}

// answerCookieSession gives the browser the session as its cookie.
func (a *API) answerCookieSession(w http.ResponseWriter, r *http.Request, u store.User, secret string, rec store.Token, how delivery) {
	websession.SetCookie(w, secret, rec.ExpiresAt)
	if how == deliverCookieRedirect {
		http.Redirect(w, r, consoleHome, http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusOK, consoleSession{User: consoleUser{ID: u.ID, Username: u.Username, Admin: u.Admin},
		CSRFToken: websession.CSRFToken(secret), ExpiresAt: rec.ExpiresAt})
}

// csrfOf is the CSRF token of a request authenticated by the session
// cookie; ok is false for a bearer token.
func csrfOf(r *http.Request, id authn.Identity) (string, bool) {
	if !id.Cookie {
		return "", false
	}
	raw, ok := websession.Credential(r)
	if !ok {
		return "", false
	}
	return websession.CSRFToken(raw), true
}

// markConsoleLogin remembers, for the callback, that the console began
// this redirect login.
func markConsoleLogin(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: consoleLoginCookie, Value: "1", Path: "/v3/login/", MaxAge: 600,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

// consoleLogin reports whether the console began the redirect login this
// callback finishes, and forgets it.
func consoleLogin(w http.ResponseWriter, r *http.Request) bool {
	if _, err := r.Cookie(consoleLoginCookie); err != nil {
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: consoleLoginCookie, Path: "/v3/login/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	return true
}

// failureRedirect turns a refused console login's Status into a redirect
// to the console's login page with the Status's message, which is already
// the safe one: a person lands on a page, not on JSON.
type failureRedirect struct {
	http.ResponseWriter
	code int
	body bytes.Buffer
}

// maxFailureBody bounds what is kept of a refusal's body.
const maxFailureBody = 4096

func (f *failureRedirect) WriteHeader(code int) {
	if code < 400 {
		f.ResponseWriter.WriteHeader(code)
		return
	}
	f.code = code
}

func (f *failureRedirect) Write(b []byte) (int, error) {
	if f.code == 0 {
		return f.ResponseWriter.Write(b)
	}
	if room := maxFailureBody - f.body.Len(); room > 0 {
		f.body.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// finish sends the redirect if the login was refused.
func (f *failureRedirect) finish(r *http.Request) {
	if f.code == 0 {
		return
	}
	var st struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(f.body.Bytes(), &st) != nil || st.Message == "" {
		st.Message = http.StatusText(f.code)
	}
	h := f.ResponseWriter.Header()
	h.Del("Content-Type")
	h.Del("Content-Length")
	http.Redirect(f.ResponseWriter, r, consoleLoginPage+"?"+url.Values{"error": {st.Message}}.Encode(), http.StatusSeeOther)
}
