// Package local is the password provider for Drover's own users, kept in the
// store with a password hash (bcrypt unless Options.Compare says otherwise).
//
// A login for an unknown username still compares the password against a
// fixed dummy hash, so that it costs as much as a real one and timing does
// not tell which usernames exist. Local users have no provider groups:
// their access comes from Drover's own bindings. Refresh re-reads the user
// by id and answers ErrInvalidCredentials when the user is gone.
//
// What this package must never do:
//   - log or return a password or a hash;
//   - tell apart, to the caller, an unknown user and a wrong password;
//   - compare a password in any way but the hash's own constant-time check.
package local
