package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"

	"github.com/drover-dev/drover/pkg/cli"
	"github.com/drover-dev/drover/pkg/cmdline"
)

// CredentialOptions are drover credential's command line.
type CredentialOptions struct {
	*global
	streams
	ClusterID string
	ACE       bool
}

func (o *CredentialOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ClusterID, "cluster", "", "the cluster's id")
	fs.BoolVar(&o.ACE, "ace", false, "a credential for the cluster's authorized endpoint (works while Drover is down)")
}

func (o *CredentialOptions) Validate() error {
	if o.ClusterID == "" {
		return errors.New("--cluster is required")
	}
	if o.Server == "" {
		return errors.New("--server is required: kubectl names the server it asks for")
	}
	return nil
}

func newCredentialCommand(g *global, stdin io.Reader) *cobra.Command {
	o := &CredentialOptions{global: g}
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "kubectl's credential plugin (client.authentication.k8s.io/v1): prints a cluster token",
		Long: "kubectl runs this through the contexts drover kubeconfig writes. It prints an\n" +
			"ExecCredential with a short-lived token scoped to the cluster, minted from your login\n" +
			"session and cached (in the config directory, mode 0600) until shortly before it\n" +
			"expires; concurrent kubectl processes share one token. When the session has ended it\n" +
			"asks for your password if kubectl gave it a terminal, else it says to run drover login.",
		Example: "  drover credential --server https://drover.example.com --cluster c-x7k2p",
		Args:    cmdline.NoArgs,
	}
	o.Flags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o.set(cmd, stdin)
		return cmdline.RunE(o, runCredential)(cmd, args)
	}
	return cmd
}

func runCredential(ctx context.Context, o *CredentialOptions) error {
	dir, cfg, err := configOf(o.global)
	if err != nil {
		return err
	}
	s, err := cfg.Find(o.Server)
	if err != nil {
		return err
	}
	req := cli.CredentialRequest{ClusterID: o.ClusterID, AuthEndpoint: o.ACE}
	c, offline, err := cli.GetCredential(ctx, dir, s, req)
	if errors.Is(err, cli.ErrSessionEnded) && interactive() {
		if err = relogin(ctx, o, dir, cfg, s); err == nil {
			c, offline, err = cli.GetCredential(ctx, dir, cfg.Servers[s.URL], req)
		}
	}
	if errors.Is(err, cli.ErrSessionEnded) {
		return fmt.Errorf("your login session on %s has ended: run drover login %s", s.URL, s.URL)
	}
	if err != nil {
		return err
	}
	expires := c.RefreshAt()
	if offline != nil {
		expires = c.ExpiresAt
		fmt.Fprintf(o.err, "drover: %s cannot be reached (%v); using the cached credential of the authorized endpoint, valid until %s\n",
			s.URL, offline.Err, c.ExpiresAt.Local().Format(time.RFC1123))
	}
	out := clientauthv1.ExecCredential{
		TypeMeta: metav1.TypeMeta{APIVersion: "client.authentication.k8s.io/v1", Kind: "ExecCredential"},
		Status:   &clientauthv1.ExecCredentialStatus{Token: c.Token, ExpirationTimestamp: &metav1.Time{Time: expires}},
	}
	return json.NewEncoder(o.out).Encode(out)
}

// interactive says whether kubectl gave the plugin the terminal
// (interactiveMode IfAvailable, KUBERNETES_EXEC_INFO).
func interactive() bool {
	var info clientauthv1.ExecCredential
	if json.Unmarshal([]byte(os.Getenv("KUBERNETES_EXEC_INFO")), &info) != nil || !info.Spec.Interactive {
		return false
	}
	return true
}

// relogin logs the person in again on the terminal kubectl handed over,
// with the provider and username of the ended session.
func relogin(ctx context.Context, o *CredentialOptions, dir string, cfg *cli.Config, s *cli.Server) error {
	fmt.Fprintf(o.err, "drover: your login session on %s has ended; log in again.\n", s.URL)
	lo := &LoginOptions{global: o.global, streams: o.streams, Username: s.Username}
	_, err := cli.Login(ctx, cfg, cli.LoginOptions{Server: s.URL, Provider: s.Provider, Username: s.Username,
		Ask: func() (string, []byte, error) { return prompt(lo) }, Browser: lo.browserLogin()})
	if err != nil {
		return err
	}
	return cfg.Save(dir)
}
