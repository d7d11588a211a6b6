// Package oidc is the OpenID Connect redirect provider: the authorization
// code flow with PKCE (S256), a nonce, and a configurable username and
// groups claim, against any issuer found by discovery (custom CA allowed).
//
// Begin makes a fresh PKCE verifier (32 random bytes) and sends its S256
// challenge and a nonce derived from it (SHA-256 of a fixed label and the
// verifier, so the caller keeps one secret, and the nonce in the URL reveals
// nothing of the verifier). Finish checks the callback's state, exchanges the
// code with the verifier, verifies the ID token (signature against the
// issuer's keys, issuer, audience, expiry; at_hash when present) and its
// nonce, and maps its claims: ID is "sub"; Username is UsernameClaim ("email"
// by default, which then must carry email_verified=true); Groups are
// GroupsClaim, a string or a list of strings, prefixed with the provider
// name ("oidc:admins"). Refresh uses the refresh token (ask for
// "offline_access", or whatever the issuer needs) and reads the new ID
// token's claims, or the userinfo endpoint's when the issuer sends no ID
// token on refresh; the subject must not change.
//
// Discovery happens at the first Begin, not in New, so that Drover starts
// while the issuer is down; a failed discovery is retried at the next use.
//
// What this package must never do:
//   - accept an ID token that fails verification, whose nonce differs, or
//     whose subject changes on refresh;
//   - log or return in an error a code, verifier, client secret, ID,
//     access or refresh token (errors carry OAuth error codes only);
//   - treat an unverified email as a username, unless configured to;
//   - follow an HTTP redirect from the issuer's endpoints, or skip TLS
//     verification (a custom CA is configured, never bypassed).
package oidc
