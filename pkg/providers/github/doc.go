// Package github is the GitHub OAuth redirect provider, written to GitHub's
// documented REST API (github.com, or GitHub Enterprise Server through
// BaseURL). GitHub is not reachable from the test machines, so it is tested
// against an httptest server that answers as the documentation says.
//
// The flow: Begin sends the browser to {web}/login/oauth/authorize with the
// client id, redirect URI, scopes (default read:org, which /user/orgs and
// /user/teams need for private memberships), state and a PKCE S256
// challenge. Finish checks the state and POSTs the code and the verifier to
// {web}/login/oauth/access_token with Accept: application/json (GitHub
// answers errors such as bad_verification_code with status 200 and an
// "error" field). With the access token it reads GET {api}/user, then
// {api}/user/orgs and {api}/user/teams, 100 per page, following the Link
// header's rel="next" only to the API's own scheme and host, at most
// maxPages pages. Groups are "github:<org>" and "github:<org>/<team-slug>",
// ID is the numeric user id (a login can be renamed and reused), Username
// the login. With Orgs set, only members of one of them may log in.
//
// GitHub OAuth app tokens do not expire; Refresh reads the same endpoints
// with the token kept in Principal.RefreshToken and answers
// ErrInvalidCredentials when GitHub refuses it (revoked, app uninstalled).
//
// Endpoints: github.com is web https://github.com and API
// https://api.github.com; GitHub Enterprise Server at BaseURL is web BaseURL
// and API BaseURL/api/v3.
//
// What this package must never do:
//   - send the access token anywhere but the configured API origin (no
//     redirects are followed; a Link to another origin is an error);
//   - log or put in an error a code, verifier, client secret or token;
//   - cut a paginated list short silently: too many pages or a Link header
//     it cannot parse is an error, not fewer groups.
package github
