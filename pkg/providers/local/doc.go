// Package local owns Drover's own users' passwords: the login of provider
// "local" (POST /v3/login without a provider, or with "local"), the rules
// for a new local username and password, and their bcrypt hashes in the
// store. pkg/api's login, user creation and password change and the
// server's bootstrap admin all go through a Provider.
//
// A login for an unknown username still compares the password against a
// dummy hash, made once per Provider at the same cost as real hashes, so
// that it costs as much as a real one and timing does not tell which
// usernames exist. A disabled user is refused like a wrong password, after
// the comparison. Local users have no provider groups: their access comes
// from Drover's own bindings. Refresh re-reads the user by id and answers
// ErrInvalidCredentials when the user is gone.
//
// The bcrypt cost is an option (default bcrypt.DefaultCost) so that tests
// can hash at bcrypt.MinCost; production never sets it.
//
// What this package must never do:
//   - log or return a password or a hash;
//   - tell apart, to the caller, an unknown user, a wrong password and a
//     disabled user (its errors say which for the log; all are
//     ErrInvalidCredentials);
//   - compare a password in any way but the hash's own constant-time check.
package local
