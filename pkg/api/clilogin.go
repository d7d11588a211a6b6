package api

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/providers/registry"
	"github.com/drover-dev/drover/pkg/store"
)

// The browser login of the drover command (registry.CLILogin): the
// command begins with a loopback redirect (or "paste") and the S256
// challenge of a verifier it keeps; the person's browser starts at
// startCLILogin, goes through the identity provider to Drover's callback,
// which hands the login off to the command as a one-time code; the command
// trades the code and its verifier for a session (exchangeCLILogin).

// startCLILogin is where the person's browser starts a login of the
// drover command. GET shows what is about to happen and asks to go on: a
// link anyone can make and send (whoever begins a login gets one) must
// not walk a browser already logged in at the identity provider straight
// through to a code in its address bar. The page's form POSTs back here,
// from this origin only (Origin), which gives the browser the login's
// claim (as the cookie the callback reads) and sends it on to the
// identity provider.
func (a *API) startCLILogin(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["provider"]
	// Not a login attempt (begin, the callback and the exchange count):
	// it opens the sealed claim and shows a page or redirects.
	if a.noProviders(w) {
		return
	}
	claim := r.URL.Query().Get("claim")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxClaimForm)
		if err := r.ParseForm(); err != nil {
			apierr.BadRequest(w, "this login form is not valid: run drover login again")
			return
		}
		claim = r.PostForm.Get("claim")
		if origin := r.Header.Get("Origin"); !sameOrigin(origin, r) {
			a.opts.Logger.Info("drover command login refused: a form from elsewhere", "provider", name, "origin", origin, "remote", r.RemoteAddr)
			apierr.Forbidden(w, "this login goes on only from its own page: open the link drover login printed")
			return
		}
	}
	authURL, err := a.opts.Providers.Start(name, claim)
	if err != nil {
		a.opts.Logger.Info("drover command login refused at start", "provider", name, "remote", r.RemoteAddr, "err", err)
		apierr.BadRequest(w, "this login link is not valid (expired, or not made by this server): run drover login again")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodPost {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		w.Header().Set("X-Frame-Options", "DENY")
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>Drover login</title>`+
			`<p>A <code>drover login</code> command asks to log in to Drover at %s through %s.</p>`+
			`<p>Go on only if you ran <code>drover login</code> yourself, on this computer, just now. `+
			`If someone sent you this link, close this page.</p>`+
			`<form method="post"><input type="hidden" name="claim" value="%s"><button type="submit">Log in with %s</button></form>`,
			html.EscapeString(a.opts.ServerURL), html.EscapeString(name), html.EscapeString(claim), html.EscapeString(name))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ClaimCookie, Value: claim, Path: "/v3/login/", MaxAge: 600,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, authURL, http.StatusSeeOther)
}

// sameOrigin says whether a request's Origin header is the server's own
// (the host the browser reached it by, over the scheme it did).
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || origin == "" || u.Host != r.Host || u.Path != "" {
		return false
	}
	return u.Scheme == "https" || r.TLS == nil && u.Scheme == "http"
}

// maxClaimForm bounds the confirmation form's body.
const maxClaimForm = 16 << 10

// handOff ends a finished login begun by the drover command: the browser
// is sent to the command's loopback address with a one-time code, or shown
// the code to paste. The code is no session: only the command's verifier
// makes it one.
func (a *API) handOff(w http.ResponseWriter, r *http.Request, u store.User, cli registry.CLILogin) {
	code, err := a.opts.Providers.HandOff(u.ID, cli)
	if err != nil {
		a.opts.Logger.Error("hand a login off to the drover command", "err", err)
		apierr.Internal(w)
		return
	}
	a.opts.Logger.Info("login handed off to the drover command", "user", u.Username, "provider", u.Provider, "remote", r.RemoteAddr)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if cli.Redirect == registry.PasteCode {
		// Anyone can begin a login and send its link to someone: the page
		// says whom the code is for (the code is worth nothing without
		// the verifier of whoever began the login). No script, no framing.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", pastePageCSP)
		w.Header().Set("X-Frame-Options", "DENY")
		fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>Drover login</title><style>%s</style>`+
			`<p>Logged in as %s. Paste this code into the drover login command you started yourself `+
			`(it works once, within two minutes):</p><pre>%s</pre>`+
			`<p>If you did not just run drover login --paste yourself, close this page. `+
			`Never give this code to anyone: it logs in as you.</p>`, pastePageStyle, html.EscapeString(u.Username), html.EscapeString(code))
		return
	}
	// Checked at begin (registry.CheckCLILogin): a loopback address.
	http.Redirect(w, r, cli.Redirect+"?"+url.Values{"code": {code}}.Encode(), http.StatusFound)
}

// pastePageStyle is the paste page's only style; pastePageCSP allows it
// by its digest (TestPastePageCSP), and nothing else.
const (
	pastePageStyle = `pre{white-space:pre-wrap;word-break:break-all}`
	pastePageCSP   = "default-src 'none'; style-src 'sha256-0xfsg+OrNfm7MMK4F66u3p9KT6ZDhEVD271NJXUgB3I='; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

type exchangeRequest struct {
	Code     string `json:"code"`
	Verifier string `json:"verifier"`
}

// exchangeCLILogin trades a handed-off login's code and the command's
// verifier for a login session, answered like POST /v3/login.
func (a *API) exchangeCLILogin(w http.ResponseWriter, r *http.Request) {
	if a.noProviders(w) || !a.allowAddress(w, r, "") {
		return
	}
	var req exchangeRequest
	if !decode(w, r, &req) {
		return
	}
	userID, err := a.opts.Providers.Redeem(req.Code, req.Verifier)
	if err != nil {
		a.loginFailed(w, r, "drover-command", "", err)
		return
	}
	u, err := a.opts.Store.UserByID(r.Context(), userID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && u.Disabled:
		a.loginFailed(w, r, "drover-command", u.Username, providers.InvalidCredentials("user %s is gone or disabled", userID))
		return
	case err != nil:
		a.storeError(w, "user", err)
		return
	}
	audit.SetUser(r.Context(), u.Username)
	a.startSession(w, r, u, deliverToken)
}
