// Package providers owns the contract between Drover and the places a user
// can prove who they are: local accounts (package local), LDAP and Active
// Directory (package ldap), any OpenID Connect issuer (package oidc) and
// GitHub OAuth (package github). Each answers with a Principal: a stable id
// within the provider, a username, and the user's groups, each prefixed with
// the provider's name ("ldap:cn=devs,ou=groups,dc=example,dc=org",
// "oidc:admins", "github:acme/platform"). The prefix keeps providers from
// speaking for each other and keeps every group out of Kubernetes' reserved
// "system:" space; Drover sends these values downstream as Impersonate-Group.
//
// There are two shapes of provider, each a small interface:
//
//   - a PasswordProvider checks a username and password itself (local, LDAP);
//   - a RedirectProvider sends the browser to the identity provider and
//     finishes on the callback (OIDC, GitHub): Begin returns the URL and a
//     PKCE verifier the caller keeps server-side, bound to the state it
//     chose; Finish checks the state, exchanges the code with the verifier,
//     and (for OIDC) checks the ID token's nonce, which is derived from the
//     verifier so that the caller keeps one secret, not two.
//
// Both refresh: Refresh re-reads the user's groups without the user present,
// at login and on a schedule, from the service account (LDAP), the user
// store (local), a refresh token (OIDC) or the access token (GitHub). The
// last two travel in Principal.RefreshToken, a Secret that fmt, log/slog and
// encoding/json print as "[redacted]"; Reveal it only to store it encrypted.
//
// Errors are in two classes, and callers must keep them apart:
//
//   - ErrInvalidCredentials (wrapped, so the message says why for the log):
//     wrong password, unknown or disabled user, a refused or forged
//     callback, a revoked token, a user who is gone at refresh. Answer one
//     generic 401, and end the user's sessions when Refresh returns it.
//   - anything else: the provider is down, misconfigured or answered
//     something unexpected. Answer 502/503 after logging; on Refresh, keep
//     the session as it is and try again later, never treat it as a logout
//     nor as "no groups"; but bound how long groups that could not be
//     refreshed stay in use (some issuers, Dex among them, cannot tell a
//     deleted user from a backend that is down, and answer both with 500).
//
// What this package and its subpackages must never do:
//   - log, wrap into an error or otherwise print a password, a client
//     secret, an authorization code, a PKCE verifier, an access or refresh
//     token (errors carry the username and the provider's reason, not the
//     secret);
//   - build an LDAP filter or DN from input without escaping it
//     (ldap.EscapeFilter), nor accept a username with control characters;
//   - bind to LDAP with an empty password (an "unauthenticated bind"
//     succeeds on many servers without checking anything);
//   - follow a pagination link or redirect to a host other than the one
//     configured while carrying a user's token;
//   - accept an ID token whose signature, issuer, audience, expiry or nonce
//     does not check out, or a callback whose state does not match;
//   - skip TLS verification; custom CAs are configured, never bypassed;
//   - return a group name without the provider prefix, or one with control
//     characters or spaces around it (it becomes an HTTP header value
//     downstream, and HTTP/1.1 trims those spaces: "admins " would arrive
//     as "admins"); see ValidName;
//   - take a reserved name ("local", "drover", "system") or speak in
//     Drover's "drover:" or Kubernetes' "system:" space.
package providers
