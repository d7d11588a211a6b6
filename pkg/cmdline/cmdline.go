package cmdline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
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

// NoArgs refuses any positional argument.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasAvailableSubCommands() {
		return fmt.Errorf("unknown command %q", args[0])
	}
	return fmt.Errorf("unexpected argument %q: %s takes none", args[0], cmd.CommandPath())
}

// Setup applies the conventions to root and all its subcommands: errors
// printed once by Execute (not by cobra), no usage dump after an error, no
// generated completion command, the help flag registered up front so that
// NormalizeArgs knows -help. Call it once the tree is built.
func Setup(root *cobra.Command) {
	root.CompletionOptions.DisableDefaultCmd = true
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
