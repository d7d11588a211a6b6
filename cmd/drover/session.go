package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/drover-dev/drover/pkg/cli"
	"github.com/drover-dev/drover/pkg/cmdline"
)

// LogoutOptions are drover logout's command line.
type LogoutOptions struct {
	*global
	streams
	Forget bool
}

func (o *LogoutOptions) Flags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.Forget, "forget", false, "also forget the server and its pinned CA (the next login needs --ca-checksum again)")
}

func (o *LogoutOptions) Validate() error { return nil }

func newLogoutCommand(g *global) *cobra.Command {
	o := &LogoutOptions{global: g}
	cmd := &cobra.Command{
		Use:     "logout",
		Short:   "End the login session on the server and forget it here",
		Example: "  drover logout\n  drover logout --server https://drover.example.com --forget",
		Args:    cmdline.NoArgs,
	}
	o.Flags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o.set(cmd, nil)
		return cmdline.RunE(o, runLogout)(cmd, args)
	}
	return cmd
}

func runLogout(ctx context.Context, o *LogoutOptions) error {
	dir, cfg, err := configOf(o.global)
	if err != nil {
		return err
	}
	s, err := cfg.Find(o.Server)
	if err != nil {
		return err
	}
	if s.Session == "" && !o.Forget {
		return fmt.Errorf("not logged in to %s (drover logout --forget drops the server and its pinned CA)", s.URL)
	}
	lerr := cli.Logout(ctx, cfg, s, o.Forget)
	if err := cfg.Save(dir); err != nil {
		return err
	}
	// The cluster credentials ended with the session on the server.
	if err := cli.ForgetCredentials(dir, s.URL); err != nil {
		return err
	}
	if lerr != nil {
		return lerr
	}
	fmt.Fprintf(o.out, "Logged out of %s.\n", s.URL)
	return nil
}

// WhoamiOptions are drover whoami's command line.
type WhoamiOptions struct {
	*global
	streams
	Output string
}

func (o *WhoamiOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Output, "output", "o", "table", "output format: table, json or yaml")
}

func (o *WhoamiOptions) Validate() error { return checkOutput(o.Output) }

func checkOutput(v string) error {
	switch v {
	case "table", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output %q: want table, json or yaml", v)
}

func newWhoamiCommand(g *global) *cobra.Command {
	o := &WhoamiOptions{global: g}
	cmd := &cobra.Command{
		Use:     "whoami",
		Short:   "Show who the server knows you as",
		Example: "  drover whoami\n  drover whoami -o json",
		Args:    cmdline.NoArgs,
	}
	o.Flags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o.set(cmd, nil)
		return cmdline.RunE(o, runWhoami)(cmd, args)
	}
	return cmd
}

// me is GET /v3/users/me.
type me struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Admin    bool     `json:"admin"`
	Groups   []string `json:"groups"`
	TokenID  string   `json:"tokenId"`
}

func runWhoami(ctx context.Context, o *WhoamiOptions) error {
	s, err := serverOf(ctx, o.global, o.Server)
	if err != nil {
		return err
	}
	client, err := cli.NewClient(s.URL, []byte(s.CA), s.Session)
	if err != nil {
		return err
	}
	var m me
	if err := client.Do(ctx, http.MethodGet, "/v3/users/me", nil, &m); err != nil {
		if cli.IsUnauthorized(err) {
			return fmt.Errorf("your session on %s has ended (%v): run drover login %s", s.URL, err, s.URL)
		}
		return err
	}
	switch o.Output {
	case "json":
		// Encoded: the server's text cannot reach the terminal raw.
		b, _ := json.MarshalIndent(m, "", "  ")
		fmt.Fprintf(o.out, "%s\n", b)
	case "yaml":
		b, _ := yaml.Marshal(m)
		fmt.Fprintf(o.out, "%s", b)
	default:
		tw := tabwriter.NewWriter(o.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERVER\tUSER\tADMIN\tGROUPS")
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\n", s.URL, cli.Printable(m.Username), m.Admin, cli.Printable(strings.Join(m.Groups, ",")))
		tw.Flush()
	}
	return nil
}
