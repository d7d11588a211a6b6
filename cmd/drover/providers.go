package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/cmdline"
)

func newProvidersCommand(g *global) *cobra.Command {
	o := &apiOptions{global: g}
	cmd := &cobra.Command{
		Use:   "providers",
		Short: "List the auth providers you can log in with",
		Long: "With no subcommand, list the configured auth providers (drover login --provider <name>).\n" +
			"Admins see a provider's configuration with get (secrets are never shown back).",
		Example: "  drover providers\n  drover providers get corp-ldap -o yaml",
		Args:    cmdline.NoArgs,
	}
	o.Flags(cmd.PersistentFlags())
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		return cmdline.RunE(o, func(ctx context.Context, o *apiOptions) error {
			var list struct{ Items []struct{ Name, Type string } }
			m, err := o.fetch(ctx, http.MethodGet, "/v3/login/providers", nil, &list)
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(list.Items))
			for _, p := range list.Items {
				how := "drover login --provider " + p.Name
				switch p.Type {
				case "local":
					how = "drover login"
				case "oidc", "github":
					how += " (in a browser)"
				}
				rows = append(rows, []string{p.Name, p.Type, how})
			}
			return o.print(m, []string{"NAME", "TYPE", "LOG IN WITH"}, rows)
		})(c, args)
	}
	get := &cobra.Command{
		Use:     "get <name>",
		Short:   "Show a provider's configuration (admins; secrets show as \"set\")",
		Example: "  drover providers get corp-ldap",
		Args:    cobra.ExactArgs(1),
	}
	get.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		name := args[0]
		return cmdline.RunE(o, func(ctx context.Context, o *apiOptions) error {
			var m map[string]any
			if err := o.call(ctx, http.MethodGet, "/v3/auth-providers/"+pathSegment(name), nil, &m); err != nil {
				return err
			}
			if o.Output == "table" {
				o.Output = "yaml" // a configuration is no table
			}
			return o.print(m, nil, nil)
		})(c, args)
	}
	cmd.AddCommand(get)
	return cmd
}

func newDriversCommand(g *global) *cobra.Command {
	o := &apiOptions{global: g}
	cmd := &cobra.Command{
		Use:     "drivers",
		Short:   "List cluster drivers and show their configuration schema",
		Example: "  drover drivers\n  drover drivers schema local",
		Args:    cmdline.NoArgs,
	}
	o.Flags(cmd.PersistentFlags())
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		return cmdline.RunE(o, func(ctx context.Context, o *apiOptions) error {
			var list struct {
				Items []struct {
					Name      string `json:"name"`
					Builtin   bool   `json:"builtin"`
					Sandboxed bool   `json:"sandboxed"`
					Address   string `json:"address"`
					Checksum  string `json:"checksum"`
				}
			}
			m, err := o.fetch(ctx, http.MethodGet, "/v3/drivers", nil, &list)
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(list.Items))
			for _, d := range list.Items {
				sum := d.Checksum
				if len(sum) > 12 {
					sum = sum[:12]
				}
				rows = append(rows, []string{d.Name, fmt.Sprint(d.Builtin), fmt.Sprint(d.Sandboxed), d.Address, sum})
			}
			return o.print(m, []string{"NAME", "BUILTIN", "SANDBOXED", "ADDRESS", "CHECKSUM"}, rows)
		})(c, args)
	}
	schema := &cobra.Command{
		Use:     "schema <driver>",
		Short:   "Show the fields a driver's clusters are configured with (drover clusters create --set)",
		Example: "  drover drivers schema local",
		Args:    cobra.ExactArgs(1),
	}
	schema.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		name := args[0]
		return cmdline.RunE(o, func(ctx context.Context, o *apiOptions) error {
			var s struct {
				ResourceFields map[string]struct {
					Type        string `json:"type"`
					Default     any    `json:"default"`
					Description string `json:"description"`
					Create      bool   `json:"create"`
					Update      bool   `json:"update"`
				} `json:"resourceFields"`
			}
			m, err := o.fetch(ctx, http.MethodGet, "/v3/drivers/"+pathSegment(name)+"/schema", nil, &s)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(s.ResourceFields))
			for n := range s.ResourceFields {
				names = append(names, n)
			}
			slices.Sort(names)
			rows := make([][]string, 0, len(names))
			for _, n := range names {
				f := s.ResourceFields[n]
				var when []string
				if f.Create {
					when = append(when, "create")
				}
				if f.Update {
					when = append(when, "update")
				}
				def := ""
				if f.Default != nil {
					def = fmt.Sprint(f.Default)
				}
				rows = append(rows, []string{n, f.Type, def, strings.Join(when, ","), f.Description})
			}
			return o.print(m, []string{"FIELD", "TYPE", "DEFAULT", "SET ON", "DESCRIPTION"}, rows)
		})(c, args)
	}
	cmd.AddCommand(schema)
	return cmd
}
