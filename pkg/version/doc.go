// Package version owns what a Drover binary says it is: its version, the
// commit it was built from and the Go toolchain that built it, for every
// binary's --version (wired once, in package cmdline) and for the start
// lines of the server's and the agent's logs.
//
// The values come from the build, never from the source: `make build` and
// the Dockerfiles in deploy/docker stamp the version (git describe --tags
// --always --dirty) and the commit with -ldflags -X into the two variables
// below, the only package-level variables here, written by the linker and
// never at run time. A binary built without them (plain go build, go test)
// falls back to what the Go toolchain recorded (runtime/debug.ReadBuildInfo:
// the module version and the vcs.revision and vcs.modified settings) and
// says "unknown" for what nobody recorded.
//
// It must never make a version up (no constant release number in the
// source) nor read anything at run time but the binary's own build
// information.
package version
