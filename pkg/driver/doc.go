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
//     state directory, kept across runs, since every call may be a new
//     process) and TMPDIR (the run directory), and one argument: a unix
//     socket in the run directory, or, for kontainer-engine drivers, a
//     port on 127.0.0.1;
//   - it runs in its own process group with SIGKILL as its parent-death
//     signal; it must answer GetCapabilities within AnswerTimeout (10 s) or
//     it is stopped with a clear error (`driver "x" did not answer within
//     10s`); Close sends SIGTERM to the group and, after StopGrace, SIGKILL
//     to the whole group, so nothing it started in its group outlives it.
//     The driver runs as the server's user, so this contains accidents and
//     ordinary drivers, not a malicious one: installing a driver is trusting
//     it, which is why only admins may.
//
// Downloads follow at most 5 redirects and never to another scheme; an http
// URL needs a checksum. Errors for clients come from SafeError (Drover's own
// words); what a driver itself says goes to admins and the log only.
//
// This package must never pass the server's environment or credentials to
// a driver, run a binary whose checksum it has not just verified, or leave a
// driver process running after Close.
package driver
