// Command drover is Drover's command-line client: it logs a person in to a
// Drover server (pinning the server's CA by checksum on first use) and
// keeps the login session in the user's config directory.
package main

import (
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/cmdline"
)

func main() { os.Exit(cmdline.Main(newCommand(os.Stdin))) }

// global are the flags every command takes.
type global struct {
	ConfigDir string
	Server    string
	// now is the clock of ages and expiries shown.
	now func() time.Time
}

// streams are a command's standard streams, set when it runs.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

func (s *streams) set(cmd *cobra.Command, stdin io.Reader) {
	s.in, s.out, s.err = stdin, cmd.OutOrStdout(), cmd.ErrOrStderr()
}

// newCommand is the drover command line; stdin is what --password-stdin
// and the prompts read.
func newCommand(stdin io.Reader) *cobra.Command { return newCommandAt(stdin, time.Now) }

// newCommandAt is newCommand with the clock of what it shows.
func newCommandAt(stdin io.Reader, now func() time.Time) *cobra.Command {
	g := &global{now: now}
	root := &cobra.Command{
		Use:   "drover",
		Short: "Drover's command-line client",
		Long: "drover logs you in to a Drover server and talks to its API.\n\n" +
			"Its state (the servers you logged in to, their pinned CA and your login sessions)\n" +
			"is kept in $XDG_CONFIG_HOME/drover/config.json (mode 0600), or in --config-dir.",
		Args: cmdline.NoArgs,
		// Runnable, so that a stray word is refused (exit 2), not ignored.
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.PersistentFlags().StringVar(&g.ConfigDir, "config-dir", "", "directory of drover's state (default $XDG_CONFIG_HOME/drover or ~/.config/drover)")
	root.PersistentFlags().StringVar(&g.Server, "server", "", "the Drover server (default: the one last logged in to)")
	root.AddCommand(newLoginCommand(g, stdin), newLogoutCommand(g), newWhoamiCommand(g),
		newKubeconfigCommand(g), newCredentialCommand(g, stdin), newClustersCommand(g), newTokensCommand(g),
		newUsersCommand(g, stdin), newBindingsCommand(g), newProvidersCommand(g), newDriversCommand(g),
		newCompletionCommand())
	cmdline.Setup(root)
	return root
}
