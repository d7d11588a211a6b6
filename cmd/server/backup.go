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
	"github.com/drover-dev/drover/pkg/server"
)

// BackupOptions are backup's and restore's command line.
type BackupOptions struct {
	DataDir        string
	SecretsKeyFile string
	// File is where backup writes (- for standard output) or restore
	// reads.
	File string
}

func (o *BackupOptions) Flags(fs *pflag.FlagSet, verb string) {
	fs.StringVar(&o.DataDir, "data-dir", NewOptions().DataDir, "the server's data directory")
	fs.StringVar(&o.SecretsKeyFile, "secrets-key-file", "", "the server's --secrets-key-file, if it has one (default <data-dir>/secrets.key)")
	if verb == "backup" {
		fs.StringVarP(&o.File, "out", "o", "", "the backup file to write (it must not exist; - for standard output); required")
	} else {
		fs.StringVarP(&o.File, "from", "f", "", "the backup file to restore; required")
	}
}

func (o *BackupOptions) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if o.File == "" {
		errs = append(errs, errors.New("the backup file is required (--out for backup, --from for restore)"))
	}
	return errors.Join(errs...)
}

func newBackupCommand(o *BackupOptions, run func(context.Context, *BackupOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write a backup of the server's data directory, while the server runs",
		Long: "backup writes one file with everything the server needs to be the same server on\n" +
			"another machine: a consistent snapshot of its store, its secrets key, its session\n" +
			"keys, its CA and serving certificate with their keys, and its installed drivers.\n" +
			"The server may be running. The file holds every secret of the server: it is written\n" +
			"0600; keep it as carefully as the data directory.",
		Example: "  drover-server backup --data-dir /var/lib/drover --out /backups/drover-$(date +%F).tgz",
		Args:    cmdline.NoArgs,
		RunE:    cmdline.RunE(o, run),
	}
	o.Flags(cmd.Flags(), "backup")
	return cmd
}

func newRestoreCommand(o *BackupOptions, run func(context.Context, *BackupOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restore a backup into a fresh data directory (no server running on it)",
		Long: "restore checks every file of a backup against its manifest and writes them into a\n" +
			"data directory that holds no store yet. Start the server on it with the same\n" +
			"--server-url (and --secrets-key-file, if the old one had one): agents reconnect,\n" +
			"kubeconfigs and login sessions go on working.",
		Example: "  drover-server restore --data-dir /var/lib/drover --from /backups/drover-2026-12-07.tgz",
		Args:    cmdline.NoArgs,
		RunE:    cmdline.RunE(o, run),
	}
	o.Flags(cmd.Flags(), "restore")
	return cmd
}

func runBackup(ctx context.Context, o *BackupOptions, stdout, stderr io.Writer) (err error) {
	var out io.Writer = stdout
	if o.File != "-" {
		f, err := os.OpenFile(o.File, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(o.File)
			}
		}()
		out = f
	} else if f, ok := stdout.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return errors.New("--out - writes the backup to standard output, which is a terminal: redirect it to a file")
		}
	}
	res, err := server.Backup(ctx, server.BackupOptions{DataDir: o.DataDir, SecretsKeyFile: o.SecretsKeyFile, Out: out})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Backed up %d files of %s (%d bytes) to %s. It holds the server's secrets: keep it safe.\n",
		len(res.Files), o.DataDir, res.Bytes, o.File)
	return nil
}

func runRestore(ctx context.Context, o *BackupOptions, stdout io.Writer) error {
	f, err := os.Open(o.File)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := server.Restore(ctx, server.RestoreOptions{DataDir: o.DataDir, SecretsKeyFile: o.SecretsKeyFile, In: f})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Restored %d files into %s from the backup of %s (server %s). Start drover-server on it with the same --server-url.\n",
		len(res.Files), o.DataDir, res.CreatedAt.Format("2006-01-02 15:04 MST"), res.Server)
	return nil
}
