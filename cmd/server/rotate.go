package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/pki"
)

// RotateOptions are rotate-ca's command line.
type RotateOptions struct {
	DataDir string
	// Step is prepare, finish, abort or status (the argument).
	Step     string
	Database DatabaseOptions
}

// Flags registers the options on fs.
func (o *RotateOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", NewOptions().DataDir, "the server's data directory")
	o.Database.Flags(fs)
}

// Validate checks the options.
func (o *RotateOptions) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	switch o.Step {
	case "prepare", "finish", "abort", "status":
	default:
		errs = append(errs, fmt.Errorf("the step must be prepare, finish, abort or status, not %q", o.Step))
	}
	if err := o.Database.Validate(); err != nil {
		errs = append(errs, err)
	} else if o.Database.URL != "" {
		errs = append(errs, errors.New("server replicas on PostgreSQL share their CA through the database: "+
			"rotate-ca does not rotate it yet (it would change one replica's copy only, which the others refuse)"))
	}
	return errors.Join(errs...)
}

func newRotateCommand(o *RotateOptions, run func(context.Context, *RotateOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate-ca [prepare|finish|abort|status]",
		Short: "Rotate the server's CA in two steps, keeping agents and users working",
		Long: "rotate-ca replaces the CA of the server's generated certificates in two steps; restart\n" +
			"the server after each (docs/operations.md, \"Rotating the CA\").\n\n" +
			"  prepare  makes the next CA. The server goes on serving a certificate of the current\n" +
			"           one; kubeconfigs and the drover command's pin now trust both, and agents\n" +
			"           learn the next CA from the CA lineage, signed by the current one.\n" +
			"  finish   makes the next CA the current one: the serving certificate is issued anew\n" +
			"           from it. Kubeconfigs that embed only the old CA are refused from then on:\n" +
			"           their users download them again.\n" +
			"  abort    forgets a prepared rotation.\n" +
			"  status   prints the CA checksums (the default).",
		Args: func(_ *cobra.Command, args []string) error {
			switch len(args) {
			case 0:
				o.Step = "status"
			case 1:
				o.Step = args[0]
			default:
				return errors.New("rotate-ca takes one step: prepare, finish, abort or status")
			}
			return nil
		},
		RunE: cmdline.RunE(o, run),
	}
	o.Flags(cmd.Flags())
	return cmd
}

// runRotate runs one step on the data directory's tls/.
func runRotate(o *RotateOptions, out io.Writer, now time.Time) error {
	dir := filepath.Join(o.DataDir, "tls")
	before, err := pki.RotationOf(dir)
	if err != nil {
		return fmt.Errorf("%s holds no CA of the server's (a --ca-cert given by the operator is rotated by the operator): %w", dir, err)
	}
	switch o.Step {
	case "prepare":
		err = pki.PrepareRotation(dir, now)
	case "finish":
		err = pki.FinishRotation(dir)
	case "abort":
		err = pki.AbortRotation(dir)
	}
	if err != nil {
		return err
	}
	r, err := pki.RotationOf(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "CA checksum: %s\n", r.Current)
	if r.Next != "" {
		fmt.Fprintf(out, "Next CA checksum: %s (rotation prepared)\n", r.Next)
	}
	switch o.Step {
	case "prepare":
		fmt.Fprintln(out, "Restart the server. Then have users download their kubeconfigs again (they trust both CAs),"+
			" and let agents reconnect; finish with: drover-server rotate-ca finish")
	case "finish":
		fmt.Fprintf(out, "The CA %s is retired. Restart the server: it serves a certificate of the new CA."+
			" Kubeconfigs that trust only the old CA are refused; agents and the drover command follow the CA lineage.\n", before.Current)
	case "abort":
		fmt.Fprintln(out, "The prepared rotation is forgotten. Restart the server.")
	}
	return nil
}
