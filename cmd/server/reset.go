package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/server"
)

// ResetOptions are reset-admin-password's command line.
type ResetOptions struct {
	DataDir       string
	Username      string
	PasswordStdin bool
	RevokeTokens  bool

	// cost is the bcrypt cost (0: the default); tests lower it.
	cost int
}

// NewResetOptions returns the defaults: the server's data directory and
// admin name.
func NewResetOptions() *ResetOptions {
	d := NewOptions()
	return &ResetOptions{DataDir: d.DataDir, Username: d.AdminUsername}
}

// Flags registers the options on fs.
func (o *ResetOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "the server's data directory (the server must be stopped)")
	fs.StringVar(&o.Username, "username", o.Username, "the local global admin whose password to reset")
	fs.BoolVar(&o.PasswordStdin, "password-stdin", o.PasswordStdin, "read the new password from standard input (a pipe or file; one trailing newline trimmed); required")
	fs.BoolVar(&o.RevokeTokens, "revoke-tokens", o.RevokeTokens, "also revoke the admin's API and kubeconfig tokens (its login sessions always end)")
}

// Validate checks the options.
func (o *ResetOptions) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if o.Username == "" {
		errs = append(errs, errors.New("--username must not be empty"))
	}
	if !o.PasswordStdin {
		errs = append(errs, errors.New("--password-stdin is required: the new password is read from standard input, never from the command line"))
	}
	return errors.Join(errs...)
}

func newResetCommand(o *ResetOptions, run func(context.Context, *ResetOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reset-admin-password",
		Short: "Set a local admin's password offline, on a stopped server's data directory",
		Long: "reset-admin-password sets the password of a local global admin in the server's\n" +
			"data directory while the server is stopped (it refuses while one runs), ends the\n" +
			"admin's login sessions and enables the admin if it was disabled. The password is\n" +
			"read from standard input:\n\n" +
			"  printf '%s\\n' \"$NEW_PASSWORD\" | drover-server reset-admin-password --data-dir /data --password-stdin",
		Args: cmdline.NoArgs,
		RunE: cmdline.RunE(o, run),
	}
	o.Flags(cmd.Flags())
	return cmd
}

// runReset reads the password from standard input and resets it.
func runReset(ctx context.Context, o *ResetOptions) error {
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return errors.New("--password-stdin reads a pipe or a file, not a terminal (it would echo the password): " +
			"printf '%s\\n' \"$NEW_PASSWORD\" | drover-server reset-admin-password --password-stdin …")
	}
	return resetFrom(ctx, o, os.Stdin, os.Stdout)
}

// resetFrom resets the password read from in and reports to out.
func resetFrom(ctx context.Context, o *ResetOptions, in io.Reader, out io.Writer) error {
	password, err := local.ReadPassword(in)
	if err != nil {
		return fmt.Errorf("the password from standard input: %w", err)
	}
	res, err := server.ResetAdminPassword(ctx, server.ResetOptions{DataDir: o.DataDir, Username: o.Username,
		Password: password, RevokeTokens: o.RevokeTokens, Cost: o.cost})
	if err != nil {
		return err
	}
	what := "login sessions"
	if o.RevokeTokens {
		what = "tokens (login sessions, API and kubeconfig tokens)"
	}
	fmt.Fprintf(out, "The password of admin %q is reset; %d of its %s ended.\n", res.User.Username, res.Ended, what)
	if res.Enabled {
		fmt.Fprintf(out, "The admin was disabled and is enabled again.\n")
	}
	return nil
}
