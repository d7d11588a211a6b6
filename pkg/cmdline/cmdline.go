package cmdline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/version"
)

// Options is what a command validates and runs: the Options types of the
// binaries (Validate) with their run function bound.
type Options interface {
	Validate() error
}

// RunE returns a cobra RunE that validates o and then runs it. A Validate
// error makes the binary exit with 2, an error from run with 1.
func RunE[O Options](o O, run func(context.Context, O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := o.Validate(); err != nil {
			return fmt.Errorf("invalid options:\n%w", err)
		}
		if err := run(cmd.Context(), o); err != nil {
			return &runError{err: err}
		}
		return nil
	}
}

// runError is a failure of the run itself, not of the command line.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// NoArgs refuses any positional argument, naming it: a command with
// subcommands lists them, and a word that is the name of one of the
// command's flags (`drover-server version`) is pointed to the flag.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var msg string
	if names := commandNames(cmd); len(names) > 0 {
		msg = fmt.Sprintf("unknown command %q for %s (its commands: %s)", args[0], cmd.CommandPath(), strings.Join(names, ", "))
	} else {
		msg = fmt.Sprintf("unexpected argument %q: %s takes none", args[0], cmd.CommandPath())
	}
	if cmd.Flags().Lookup(args[0]) != nil {
		msg += fmt.Sprintf("; did you mean --%s?", args[0])
	}
	return errors.New(msg)
}

// commandNames are the names of cmd's available subcommands (help aside).
func commandNames(cmd *cobra.Command) []string {
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() && sub.Name() != "help" {
			names = append(names, sub.Name())
		}
	}
	return names
}

// Setup applies the conventions to root and all its subcommands: errors
// printed once by Execute (not by cobra), no usage dump after an error, no
// generated completion command, the help flag registered up front so that
// NormalizeArgs knows -help, and --version on root (see AddVersion). Call
// it once the tree is built.
func Setup(root *cobra.Command) {
	root.CompletionOptions.DisableDefaultCmd = true
	AddVersion(root, version.Get())
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.SilenceErrors = true
		c.SilenceUsage = true
		c.InitDefaultHelpFlag()
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// AddVersion gives root a --version flag that prints info (package
// version) and exits 0. It is checked after the arguments, so that
// `--version extra` is refused like any stray argument, and before the
// options are validated, so that it works without the flags a run needs.
// A root that already has the flag is left alone.
func AddVersion(root *cobra.Command, info version.Info) {
	if root.Flags().Lookup("version") != nil || root.RunE == nil {
		return
	}
	show := root.Flags().Bool("version", false, "print the version, the commit and the Go version it was built from, then exit")
	run := root.RunE
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if *show {
			_, err := fmt.Fprint(cmd.OutOrStdout(), info.Text(cmd.Name()))
			return err
		}
		return run(cmd, args)
	}
}

// Execute runs root with args and returns the exit code: 0 on success or
// help, 2 when the command line is wrong (with a hint to --help), 1 when
// the run fails.
func Execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	Setup(root)
	root.SetArgs(NormalizeArgs(root, args))
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if cmd == nil {
		cmd = root
	}
	if re := (*runError)(nil); errors.As(err, &re) {
		fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), re.err)
		return 1
	}
	fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cmd.CommandPath(), err, cmd.CommandPath())
	return 2
}

// Main runs root with the process's arguments until SIGINT or SIGTERM and
// returns the exit code for os.Exit.
func Main(root *cobra.Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, root, os.Args[1:], os.Stdout, os.Stderr)
}
