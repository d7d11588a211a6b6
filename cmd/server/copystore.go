package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/server"
)

// CopyOptions are copy-to-postgres's command line.
type CopyOptions struct {
	DataDir  string
	Database DatabaseOptions
}

// Flags registers the options on fs.
func (o *CopyOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DataDir, "data-dir", NewOptions().DataDir, "the server's data directory (the server must be stopped)")
	o.Database.Flags(fs)
}

// Validate checks the options.
func (o *CopyOptions) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if err := o.Database.Validate(); err != nil {
		errs = append(errs, err)
	} else if o.Database.URL == "" {
		errs = append(errs, errors.New("--database-url (or $"+EnvDatabaseURL+") is required: the PostgreSQL database to copy into"))
	}
	return errors.Join(errs...)
}

func newCopyCommand(o *CopyOptions, run func(context.Context, *CopyOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "copy-to-postgres",
		Short: "Copy a stopped server's SQLite store into an empty PostgreSQL database",
		Long: "copy-to-postgres copies every user, token (as its hash), cluster, registration\n" +
			"token, binding, project, auth provider, driver and sealed secret of the SQLite store\n" +
			"in --data-dir into an empty PostgreSQL database, in one transaction, then moves the\n" +
			"SQLite file aside (" + server.CopiedSuffix + "). Start the server again with the same\n" +
			"--data-dir (it keeps the keys and the CA) and the database: agents, kubeconfigs and\n" +
			"login sessions go on working.",
		Example: "  DROVER_DATABASE_URL=postgres://drover:…@db:5432/drover?sslmode=verify-full \\\n" +
			"    drover-server copy-to-postgres --data-dir /var/lib/drover",
		Args: cmdline.NoArgs,
		RunE: cmdline.RunE(o, run),
	}
	o.Flags(cmd.Flags())
	return cmd
}

func runCopy(ctx context.Context, o *CopyOptions, stdout io.Writer) error {
	db, err := o.Database.Postgres()
	if err != nil {
		return err
	}
	res, err := server.CopyToPostgres(ctx, server.CopyOptions{DataDir: o.DataDir, Database: db})
	if err != nil {
		return err
	}
	var total int64
	tables := make([]string, 0, len(res.Rows))
	for t, n := range res.Rows {
		tables = append(tables, t)
		total += n
	}
	slices.Sort(tables)
	fmt.Fprintf(stdout, "Copied %d rows into PostgreSQL:\n", total)
	for _, t := range tables {
		fmt.Fprintf(stdout, "  %-22s %d\n", t, res.Rows[t])
	}
	fmt.Fprintf(stdout, "The SQLite store is now %s. Start the server with the same --data-dir and the database.\n", res.MovedTo)
	return nil
}
