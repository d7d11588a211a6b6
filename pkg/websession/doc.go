// Package websession owns the console's browser session: the cookie that
// carries a login session's JWT (its name, path and attributes), the CSRF
// token bound to it, and the check every cookie-authenticated request must
// pass (Check): a state-changing request needs this server's own Origin and
// the CSRF token; a websocket upgrade needs the Origin.
//
// The cookie is HttpOnly, Secure and SameSite=Strict, limited to the JSON
// API's path; the session token never reaches the page's JavaScript, only
// the CSRF token does. The CSRF token is a digest of the session token under
// a fixed label: whoever holds the session can compute it, nobody else can,
// and every replica derives the same one without shared state.
//
// It must never log or return the cookie's value, never accept the cookie
// without the check (callers authenticate only what Credential returns
// after Check passed), and never accept a cookie for anything but a login
// session (package authn enforces the kind).
package websession
