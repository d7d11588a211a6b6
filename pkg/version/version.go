package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Stamped by the linker (-ldflags "-X <this package>.version=… -X
// <this package>.commit=…"); empty in a plain go build.
var (
	version string
	commit  string
)

// Unknown stands for what the build did not record.
const Unknown = "unknown"

// Info is what a binary says it is.
type Info struct {
	// Version is the stamped version (git describe), else the main
	// module's version as the Go toolchain recorded it, else Unknown.
	Version string
	// Commit is the stamped commit, else the recorded vcs.revision, else
	// Unknown.
	Commit string
	// Modified is true when the toolchain recorded uncommitted changes in
	// the work tree it built from (vcs.modified).
	Modified bool
	// GoVersion is the toolchain that built the binary, Platform its
	// GOOS/GOARCH.
	GoVersion, Platform string
}

// Get returns this binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, bi)
}

// resolve prefers the linker's stamps and falls back to bi (nil when the
// binary carries no build information).
func resolve(stampedVersion, stampedCommit string, bi *debug.BuildInfo) Info {
	info := Info{Version: stampedVersion, Commit: stampedCommit, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
	}
	if info.Version == "" {
		info.Version = Unknown
	}
	if info.Commit == "" {
		info.Commit = Unknown
	}
	return info
}

// Text is what --version prints for the binary named name: three lines,
// "<name> version <version>", "commit: <commit>" (with " (modified)" for a
// work tree with uncommitted changes) and "go: <go version> <platform>".
func (i Info) Text(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s version %s\n", name, i.Version)
	fmt.Fprintf(&b, "commit: %s", i.Commit)
	if i.Modified {
		b.WriteString(" (modified)")
	}
	fmt.Fprintf(&b, "\ngo: %s %s\n", i.GoVersion, i.Platform)
	return b.String()
}

// LogAttrs are the key-value pairs a start log line carries.
func (i Info) LogAttrs() []any {
	return []any{"version", i.Version, "commit", i.Commit, "go", i.GoVersion}
}
