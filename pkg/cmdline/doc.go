// Package cmdline owns how Drover's binaries (drover-server, drover-agent
// and its subcommands, driver-local) read their command lines: cobra
// commands with pflag flags, the single-dash long flags older scripts pass
// (`-server https://…`, as Go's flag package accepted), and the exit codes:
// 0 after help, 2 for a command line the binary cannot run with (an unknown
// flag, a stray argument, invalid options), 1 when the run itself fails;
// and --version on every binary's root command (what package version says
// of the build).
//
// Each binary keeps its own Options with Flags, Validate and run(ctx); this
// package only wires them to cobra, once for all of them.
//
// It must never ignore part of a command line: an unknown flag or an
// argument the command does not take is an error (exit code 2), never
// skipped.
package cmdline
