// Package sandbox confines a cluster driver when the server runs as root.
//
// A driver is code the admin chose to run, not code the server trusts with
// its own secrets: the session keys, the sealing key, the database, the TLS
// key. Run as the server's user it could read them all, through their paths
// or through /proc/<server pid>/ (root, fd, environ). So a root server starts
// every driver through a helper that
//
//   - is the server's own binary (/proc/self/exe, so no second file to
//     install or trust), started as "drover-driver-sandbox" in a new mount
//     namespace; Init, called first thing in main, recognises that and never
//     returns to the server's code;
//   - builds the driver's view of the file system in that namespace (nothing
//     it mounts reaches the host: / is made private first, and the helper
//     refuses to mount anything if its namespace is the server's):
//     the server's data directory is covered by an empty tmpfs no one but
//     root may enter, its key and TLS files named elsewhere by an empty file
//     of mode 0; the driver's own directories (its state, its run directory
//     holding the verified copy of its binary) and what the admin shares with
//     drivers (--driver-share: the local driver's etcd and kube-apiserver)
//     are bind-mounted at their own paths, read-only unless they are the
//     driver's to write, and where a directory on the way to one is closed
//     to the driver user (/root, a 0700 temporary directory) it is covered
//     by a tmpfs holding only the way through; /proc is mounted afresh with
//     hidepid=2, so the driver sees its own processes only;
//   - drops to the driver user (a fixed uid and gid, no passwd entry needed,
//     no supplementary groups, no capabilities), sets no_new_privs (no
//     setuid binary gives them back) and the parent-death signal again (a
//     change of uid clears it), and execs the driver.
//
// The uid boundary alone already keeps the server's 0600 files and its
// /proc/<pid> entries (environ, fd, root, mem: the kernel's ptrace access
// check) from the driver; the mount namespace hides what a wrong file mode
// would not, and the server's processes altogether.
//
// There is no pid or network namespace: a driver's children (the local
// driver's etcd and kube-apiserver) must outlive it, and kontainer-engine
// drivers listen on a port of the host's loopback. All drivers share one
// uid, so they are not confined from each other.
//
// This package must never mount anything in the server's own mount
// namespace, exec a driver with any privilege left, or hand the driver an
// open file of the server's other than its output.
package sandbox
