// Package haproxy starts a real HAProxy (Debian's package) in front of
// server replicas for the high-availability tests: TCP passthrough (TLS
// ends at the replicas), round robin, and a health check that is an HTTPS
// GET of /readyz verified against the service's CA, so that a frozen
// replica (which still accepts TCP connections) is taken out.
//
// What this package owns: finding the binary ($HAPROXY, else
// /usr/sbin/haproxy; `make ha-tools` installs it), writing its
// configuration into a temporary directory, running it in the foreground
// as a child on a free 127.0.0.1 port (or the address a test gives), and reporting which backends it
// sees up (its stats socket).
//
// What this package must never do: listen on or forward to any address
// that is not this machine's (127.0.0.1, or the end of a test network
// namespace's link that is in the root namespace), touch the machine's own HAProxy configuration or
// service, or install anything (a missing binary is an error telling to
// run `make ha-tools`).
package haproxy
