// Package registry turns the auth provider configurations Drover stores into
// working providers, and keeps what a provider says about a user in the
// store: it is the one place between package providers (which knows how to
// ask an identity provider) and package store (which knows users).
//
// # Configurations
//
// A configuration is a type (ldap, oidc, github) and that package's Config as
// JSON. Save decodes it strictly (unknown fields are refused), builds the
// provider from it (which validates without contacting the identity
// provider), and stores it sealed (AES-256-GCM with the server's secrets
// key, bound to the provider's name as purpose, so a blob copied into
// another row does not open). Views (Info) never carry a secret field: they
// say "set" or "unset". A Save that leaves a secret field out keeps the
// stored one, so that GET, edit, PUT does not wipe a bind password; but
// only when the type and the endpoint fields (Type.Endpoint: URL, TLS
// settings, CA, server name) are unchanged, so that a stored secret never
// follows an edited URL to another server: then the Save is refused until
// the client sends the secret again or clears it (SaveOptions.ClearSecrets).
//
// Providers are built once per stored configuration: Provider re-reads the
// row (one SQLite lookup) and rebuilds only when the sealed blob changed, so
// an update through another replica takes effect at the next login here and
// an OIDC provider keeps its discovery document between logins.
//
// # Users
//
// Record maps a Principal to a Drover user, keyed by (provider, principal
// ID), never by name: the first login creates the user as
// "<provider>:<login>", and that username never changes (it is the
// Kubernetes identity downstream RBAC names; a login the provider gives up
// may go to someone else). Later logins update the login, display name,
// groups, when they were read, and the sealed refresh credential. A new
// principal whose username is taken is refused, nobody is renamed. A
// disabled user, a provider that is no longer configured, a username or
// group in the reserved "drover:" and "system:" spaces are refused before
// anything is written; groups that are not safe header values are dropped.
//
// Refresh asks the provider again without the user. Its answers mean:
//
//   - a Principal: groups and names are replaced; listeners are told when
//     access may have changed;
//   - ErrInvalidCredentials: the user may no longer log in; it is disabled
//     (every token of it is deleted, dropped from the caches, its open
//     streams end);
//   - ErrNoRefresh: nothing to refresh with; the user keeps its groups
//     until they are older than Options.MaxStale;
//   - anything else: the provider did not answer; try again later, but once
//     groups are older than Options.MaxStale they are dropped (fail closed:
//     some issuers answer an outage and a deleted user alike).
//
// Each refresh pass first drops, in one statement, the groups of every
// external user not refreshed for MaxStale, whatever the reason. Every
// attempt is recorded and the users due are taken least recently attempted
// first, so users whose refresh keeps failing cannot starve the others.
//
// Logins and refreshes of one principal are serialised on this server:
// OIDC issuers rotate refresh tokens, and two concurrent refreshes with the
// same token would make the second look revoked.
//
// # Redirect logins
//
// Begin picks a 256-bit random state, asks the provider for its URL and a
// PKCE verifier, and keeps nothing: the provider, the state's digest, the
// verifier and the expiry (ten minutes on) are sealed (pkg/seal, the
// purpose naming the provider) into the claim, a secret the client that
// began the login presents at the callback (a cookie or a header), so
// anyone beginning logins in a loop fills no memory. Finish opens the
// claim first: not sealed here for this provider, expired, or for another
// state, and the callback is refused having spent nothing (so a leaked
// callback URL can neither log in nor spoil the login). Then the state is
// spent (single use) before anything else, so a replayed state is refused
// however the exchange would have gone. Spent states are remembered,
// bounded in number (Options.MaxSpent; refused past it, fail closed), for
// one ttl each and swept oldest first (no scan of the table); a spent
// state needs a claim of this server's, so filling the table takes a
// begun and finished login each, both limited per client address by the
// API. They are kept in this process, or, with Options.Spent (server
// replicas on one database), in the database, where every replica sees
// them: a login begun through one replica finishes through any (the
// claim is sealed with the secrets key they share), once. A server alone
// after a restart would take a state once more within its ten minutes,
// where the identity provider's own single-use code still refuses the
// exchange.
// The state is bound to the browser that began the login through the
// claim (login CSRF: see docs/auth-providers.md).
//
// # Logins of the drover command
//
// A redirect login begun with a CLILogin (handoff.go; CheckCLILogin owns
// what its loopback redirect may be) also seals the command's redirect,
// its PKCE challenge and the identity provider's URL into the claim:
// Start gives that URL only for such a claim. Finish returns the
// CLILogin, and the caller hands the login off (HandOff) as a sealed code
// of two minutes bound to the challenge; Redeem honours it once, with the
// verifier, spending it in the same table as the states (kept as long as
// a claim or a code lives). As for states, a restart of a server alone
// would take a code once more within its two minutes, and only with the
// verifier that never left the command.
//
// What this package must never do: log or return a secret (bind password,
// client secret, refresh token, verifier, code); store a configuration or a
// refresh credential unsealed; treat a provider outage as a logout; key a
// user by anything but (provider, ID).
package registry
