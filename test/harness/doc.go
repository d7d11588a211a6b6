// Package harness runs Drover itself for integration tests, `make demo` and
// `make bench`: it builds the server and agent binaries, starts them as real
// processes (the agent exactly as its Deployment would: server URL, CA
// checksum, token file), and talks to the server's JSON API as a user would.
// Downstream clusters come from package testbed.
//
// It must never reach a non-loopback address and must leave no process
// behind: children die with the test process (Pdeathsig) and Stop kills them.
package harness
