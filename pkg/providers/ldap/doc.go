// Package ldap is the LDAP and Active Directory password provider.
//
// A login opens one connection (LDAPS, or LDAP upgraded with StartTLS; plain
// LDAP only when InsecureNoTLS says so), binds as the service account,
// searches for exactly one user entry under UserBaseDN matching UserFilter
// and UsernameAttribute=<the escaped username>, refuses a disabled account
// (DisabledFilter, checked before the password is tried, so a disabled
// account's password is never tested), binds as that entry with the
// password, binds back as the service account and reads the user's groups.
// The connection is closed at the end; nothing is pooled, so a changed
// service password or CA takes effect at the next login.
//
// Groups are identified by their DN as the server spells it and prefixed
// with the provider name: "ldap:cn=devs,ou=groups,dc=example,dc=org".
// Nested groups count: with ActiveDirectory, one search with the
// LDAP_MATCHING_RULE_IN_CHAIN rule (1.2.840.113556.1.4.1941) returns every
// group that contains the user at any depth; elsewhere the provider searches
// the groups whose MemberAttribute names the user, then the groups naming
// those, level by level until no new group appears (a fixed point, so
// cycles end), at most MaxNestingDepth levels and providers.MaxGroups
// groups. Deeper nesting is cut and logged; more groups is an error.
//
// An unknown username is answered without a user bind, so faster than a
// wrong password; the login rate limits, not this package, bound what that
// timing tells.
//
// Refresh needs no password: it reads the entry by its DN (the Principal's
// ID) as the service account, and answers ErrInvalidCredentials when the
// entry is gone, no longer matches UserFilter, or is disabled.
//
// What this package must never do:
//   - put a username or DN into a filter without ldap.EscapeFilter, or
//     accept a username with control characters (providers.CheckUsername);
//   - bind with an empty password (an unauthenticated bind "succeeds"
//     without checking anything on many servers), for the user or the
//     service account;
//   - send a password over a connection that is not TLS unless the
//     configuration says InsecureNoTLS, or skip certificate verification;
//   - log or return a password, the service account's included; errors
//     name the username and the server's result code only;
//   - tell apart, to the caller, an unknown user, a disabled one and a wrong
//     password: all three are providers.ErrInvalidCredentials.
package ldap
