// Package driver is the server's side of cluster drivers: the registry of
// drivers (built-in binaries from --driver-dir, and binaries installed from
// a URL with a SHA-256 checksum), the launcher that runs one for a call,
// and each driver's config schema (package schema), read from the driver
// and cached.
//
// A driver is untrusted code that the admin chose to run, so the launcher
// keeps what it hands over to the minimum and cleans up after it:
//   - before every start it copies the registered binary into a private run
//     directory while hashing it, and runs the copy only if the hash is the
//     registered one (a mismatch is refused with ErrChecksum);
//   - the driver gets no environment of the server's: PATH, HOME (its own
//     state directory, <state-dir>/home/<name>, kept across runs, since
//     every call may be a new process) and TMPDIR (the run directory's
//     tmp/), and one argument: a unix socket in that tmp/, or, for
//     kontainer-engine drivers, a port on 127.0.0.1;
//   - it runs in its own process group with SIGKILL as its parent-death
//     signal; it must answer GetCapabilities within AnswerTimeout (10 s) or
//     it is stopped with a clear error (`driver "x" did not answer within
//     10s`); Close sends SIGTERM to the group and, after StopGrace, SIGKILL
//     to the whole group, so nothing it started in its group outlives it.
//
// Drivers keep their files in the state directory (Options.StateDir),
// never in the server's data directory (Options.Dir holds only the
// installed binaries and the drivers' logs, which the server writes).
//
// When the server runs as root, every driver runs sandboxed (package
// sandbox): as the driver user (SandboxOptions.UID/GID, 70000 by default),
// without capabilities or a way back to them, in a mount namespace where the
// server's data directory and key files are covered and /proc shows the
// driver user's processes only. Its home and run directories are made for
// that user (state.go says who owns what); what else it needs (the local
// driver's etcd and kube-apiserver) the admin shares. So a malicious driver
// can do what its user can (reach the network, fill its home), not read the
// server's secrets. A server that is not root cannot drop privileges: it
// refuses drivers (ErrUnsandboxed: at install, schema and every launch)
// unless AllowUnsandboxed, and then runs them as its own user, where they
// can read everything the server can; Info.Sandboxed tells which.
//
// Downloads follow at most 5 redirects and never to another scheme; an http
// URL needs a checksum. Errors for clients come from SafeError (Drover's own
// words); what a driver itself says goes to admins and the log only.
//
// This package must never pass the server's environment or credentials to
// a driver, run a binary whose checksum it has not just verified, run a
// driver as root or, unless told, as the server's user, or leave a driver
// process running after Close.
package driver
