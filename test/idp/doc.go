// Package idp starts real identity providers for the auth provider tests:
// OpenLDAP's slapd (Debian's package) and Dex (built from source at a pinned
// version), each as a throwaway child process on 127.0.0.1 with its own
// temporary directory, installed and built by `make idp` (mk/idp.mk).
//
// What this package owns:
//   - finding the binaries (FindSlapd, FindDex; $SLAPD and $DEX);
//   - the fixed test directory every Slapd serves under dc=example,dc=org:
//     a read-only service account, users (Alice, Bob; Carol, disabled
//     through the password policy overlay's pwdAccountLockedTime, see
//     DisabledFilter; Meta, whose login name is made of LDAP filter
//     metacharacters and whose DN needs escaping), and groupOfNames groups
//     nested through member values that name other groups (devs in
//     platform in admins), including a cycle (loop-a and loop-b);
//   - a fresh CA and serving certificate per server, so tests cover TLS
//     and StartTLS with a custom CA;
//   - Dex with a static configuration: one confidential client, one static
//     password user (Dex gives such users no groups) and an LDAP connector
//     backed by a Slapd (which gives groups); and Dex.Login, which plays the
//     browser through Dex's login form up to the redirect to the client;
//   - the lifecycle: random free loopback ports (retried when another
//     process takes one first), waiting until each server answers, and
//     stopping (SIGTERM, then SIGKILL) and removing the directory.
//
// What this package must never do:
//   - listen on, connect to or advertise any address other than 127.0.0.1;
//   - touch the machine's own slapd configuration or service (it runs its
//     own slapd with -f and -h, in the foreground, as a child);
//   - build or install anything: a missing binary is an error telling to
//     run `make idp`, so tests fail rather than skip;
//   - import anything from the product: it is test infrastructure only.
package idp
