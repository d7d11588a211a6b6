// Package postgres starts a real PostgreSQL server (Debian's
// postgresql-15 binaries) for the tests of the PostgreSQL store and of
// server replicas: a throwaway cluster in a temporary directory, on a free
// 127.0.0.1 port, with password (SCRAM) authentication.
//
// What this package owns:
//   - finding the binaries ($PG_BIN, else /usr/lib/postgresql/15/bin;
//     `make ha-tools` installs them);
//   - initdb and postgres as an unprivileged user when the tests run as
//     root (both refuse root): nobody, owning the cluster's directory;
//   - a superuser with a random password that never appears in an argv,
//     databases per test (NewDatabase), and the lifecycle: start, wait
//     until it answers, fast shutdown, kill, restart on the same data, and
//     removal of the directory.
//
// What this package must never do:
//   - listen on, connect to or advertise any address other than 127.0.0.1,
//     or create a unix socket (unix_socket_directories is empty);
//   - touch the machine's own PostgreSQL clusters or service;
//   - install anything: a missing binary is an error telling to run
//     `make ha-tools`, so tests fail rather than skip.
package postgres
