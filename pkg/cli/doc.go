// Package cli is the drover command's side of Drover: what it keeps on the
// user's machine (the servers logged in to, their pinned CA bundles and
// login sessions, in one file of the user's config directory), the client
// it talks to a server's JSON API with, and the login flows.
//
// It owns the file's location (Dir), its format and its mode (0600, in a
// 0700 directory; a file others can read is refused, not used), the
// normalised form of a server URL (the key of the file), and how a
// password is read (never from the command line).
//
// It must never write a password anywhere, print a session token, trust a
// server whose CA was not pinned (capin) on first contact, or send a
// credential to a server over a connection not verified against the pinned
// CA.
package cli
