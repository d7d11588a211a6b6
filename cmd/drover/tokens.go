package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/cli"
	"github.com/drover-dev/drover/pkg/cmdline"
)

type tokenView struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	ClusterID   string    `json:"clusterId"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	LastUsedAt  time.Time `json:"lastUsedAt"`
}

var tokenHeader = []string{"ID", "KIND", "CLUSTER", "DESCRIPTION", "AGE", "EXPIRES IN", "LAST USED"}

func tokenRows(o *apiOptions, ts []tokenView) [][]string {
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		used := ""
		if !t.LastUsedAt.IsZero() {
			used = o.age(t.LastUsedAt) + " ago"
		}
		rows = append(rows, []string{t.ID, t.Kind, t.ClusterID, t.Description, o.age(t.CreatedAt), o.until(t.ExpiresAt), used})
	}
	return rows
}

func newTokensCommand(g *global) *cobra.Command {
	o := &apiOptions{global: g}
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "List, create and revoke your API tokens",
		Long: "With no subcommand, list your tokens: login sessions, API and kubeconfig tokens, and\n" +
			"the credential plugin's short-lived ones (kind plugin and plugin-ace). Secrets are never listed.",
		Example: "  drover tokens\n  drover tokens create --cluster prod --ttl 24h --description ci\n  drover tokens revoke t-abc123def4",
		Args:    cmdline.NoArgs,
	}
	o.Flags(cmd.PersistentFlags())
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		return cmdline.RunE(o, listTokens)(c, args)
	}
	cmd.AddCommand(newTokenCreateCommand(o), newTokenRevokeCommand(o))
	return cmd
}

func listTokens(ctx context.Context, o *apiOptions) error {
	var list struct{ Items []tokenView }
	m, err := o.fetch(ctx, http.MethodGet, "/v3/tokens", nil, &list)
	if err != nil {
		return err
	}
	return o.print(m, tokenHeader, tokenRows(o, list.Items))
}

type tokenCreateOptions struct {
	*apiOptions
	Cluster, TTL, Description string
}

func newTokenCreateCommand(ao *apiOptions) *cobra.Command {
	o := &tokenCreateOptions{apiOptions: ao}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API token (its secret is shown once)",
		Example: "  drover tokens create --description ci --ttl 720h\n" +
			"  drover tokens create --cluster prod -o json | jq -r .token",
		Args: cmdline.NoArgs,
	}
	cmd.Flags().StringVar(&o.Cluster, "cluster", "", "scope the token to one cluster (id or name)")
	cmd.Flags().StringVar(&o.TTL, "ttl", "", "lifetime, e.g. 24h (default: the server's --kubeconfig-ttl)")
	cmd.Flags().StringVar(&o.Description, "description", "", "what the token is for")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		return cmdline.RunE(o, createToken)(c, args)
	}
	return cmd
}

func createToken(ctx context.Context, o *tokenCreateOptions) error {
	body := map[string]string{"ttl": o.TTL, "description": o.Description}
	if o.Cluster != "" {
		id, err := (&clusterArgs{apiOptions: o.apiOptions, Cluster: o.Cluster}).resolve(ctx)
		if err != nil {
			return err
		}
		body["clusterId"] = id
	}
	var t struct {
		tokenView
		Token string `json:"token"`
	}
	m, err := o.fetch(ctx, http.MethodPost, "/v3/tokens", body, &t)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return o.print(m, nil, nil)
	}
	fmt.Fprintf(o.out, "Token %s created (expires %s). Its secret, shown only now:\n\n%s\n",
		t.ID, t.ExpiresAt.Local().Format(time.RFC1123), cli.Printable(t.Token))
	return nil
}

func newTokenRevokeCommand(o *apiOptions) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:     "revoke <token id>",
		Short:   "Revoke a token at once, with the tokens minted through it",
		Example: "  drover tokens revoke t-abc123def4",
		Args:    cobra.ExactArgs(1),
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		id = args[0]
		return cmdline.RunE(o, func(ctx context.Context, o *apiOptions) error {
			if err := o.call(ctx, http.MethodDelete, "/v3/tokens/"+pathSegment(id), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(o.out, "Token %s revoked.\n", cli.Printable(id))
			return nil
		})(c, args)
	}
	return cmd
}
