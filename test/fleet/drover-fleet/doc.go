// Command drover-fleet runs the fleet simulator (package fleet) once and
// prints its figures, ending with the line `make bench-scale` promises:
//
//	fleet: clusters=<n> connected=<n> server_rss_mib=<x> rss_per_tunnel_kib=<y> goroutines_per_tunnel=<z>
//
// It raises its open-file limit first (each tunnel holds a descriptor on
// both sides, and each cluster's controller connection two more here), so
// the server, its child, inherits the raised limit. It must never reach a
// non-loopback address, and it exits non-zero when the fleet did not
// connect whole.
package main
