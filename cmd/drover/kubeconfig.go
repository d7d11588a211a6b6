package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/drover-dev/drover/pkg/cli"
	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/kubeconfig"
)

// KubeconfigOptions are drover kubeconfig's command line.
type KubeconfigOptions struct {
	*global
	streams
	Clusters []string
	Merge    bool
	// Kubeconfig is the file --merge writes (default: kubectl's).
	Kubeconfig string
	// Command is the plugin's command in the file (default: this binary).
	Command string
}

func (o *KubeconfigOptions) Flags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&o.Clusters, "cluster", nil, "the clusters, by id or name (repeatable; default: every cluster you may reach); the first is the current context")
	fs.BoolVar(&o.Merge, "merge", false, "merge the contexts into your kubeconfig (--kubeconfig) instead of printing them")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "the kubeconfig --merge writes (default: the first file of $KUBECONFIG, else ~/.kube/config)")
	fs.StringVar(&o.Command, "command", "", "the command kubectl runs for credentials (default: the absolute path of this drover)")
}

func (o *KubeconfigOptions) Validate() error {
	if o.Kubeconfig != "" && !o.Merge {
		return errors.New("--kubeconfig names the file --merge writes: add --merge")
	}
	return nil
}

func newKubeconfigCommand(g *global) *cobra.Command {
	o := &KubeconfigOptions{global: g}
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print a kubeconfig whose credentials come from drover, not from a stored token",
		Long: "Print (or --merge into your kubeconfig) a context per cluster through Drover, and a\n" +
			"<cluster>-ace context for each cluster with an authorized endpoint. kubectl runs\n" +
			"`drover credential` for a token of minutes, scoped to the cluster and minted from your\n" +
			"login session; the file holds no secret. The -ace contexts keep working while\n" +
			"Drover is down, with a longer token cached by drover. The current context is the\n" +
			"first --cluster, else the first connected cluster.",
		Example: "  drover kubeconfig > ~/.kube/drover.yaml\n" +
			"  drover kubeconfig --cluster prod --merge\n" +
			"  KUBECONFIG=~/.kube/drover.yaml kubectl get ns",
		Args: cmdline.NoArgs,
	}
	o.Flags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o.set(cmd, nil)
		return cmdline.RunE(o, runKubeconfig)(cmd, args)
	}
	return cmd
}

// clusterItem is what drover reads of GET /v3/clusters.
type clusterItem struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	State        string `json:"state"`
	AuthEndpoint *struct {
		URL    string `json:"url"`
		CACert string `json:"caCert"`
	} `json:"authEndpoint"`
}

func runKubeconfig(ctx context.Context, o *KubeconfigOptions) error {
	s, err := serverOf(ctx, o.global, o.Server)
	if err != nil {
		return err
	}
	client, err := cli.NewClient(s.URL, []byte(s.CA), s.Session)
	if err != nil {
		return err
	}
	var list struct{ Items []clusterItem }
	if err := client.Do(ctx, http.MethodGet, "/v3/clusters", nil, &list); err != nil {
		return sessionErr(s, err)
	}
	picked, err := pickClusters(list.Items, o.Clusters)
	if err != nil {
		return err
	}
	command := o.Command
	if command == "" {
		if command, err = os.Executable(); err != nil {
			return fmt.Errorf("the path of drover (give --command): %w", err)
		}
	}
	if !filepath.IsAbs(command) {
		return fmt.Errorf("--command %q: kubectl needs an absolute path", command)
	}
	entries := make([]kubeconfig.Cluster, 0, len(picked))
	for _, c := range picked {
		e := kubeconfig.Cluster{ID: c.ID, Name: c.Name}
		if c.AuthEndpoint != nil {
			e.DirectURL, e.DirectCA = c.AuthEndpoint.URL, []byte(c.AuthEndpoint.CACert)
		}
		entries = append(entries, e)
	}
	kc, err := kubeconfig.Build(kubeconfig.Options{
		ServerURL: s.URL, CAPEM: []byte(s.CA), Username: s.Username, Clusters: entries,
		Current: currentCluster(picked, len(o.Clusters) > 0),
		Exec: func(clusterID string, ace bool) *clientcmdapi.ExecConfig {
			args := []string{"credential", "--server", s.URL, "--cluster", clusterID}
			if o.ConfigDir != "" {
				args = append(args, "--config-dir", o.ConfigDir)
			}
			if ace {
				args = append(args, "--ace")
			}
			return &clientcmdapi.ExecConfig{
				APIVersion: "client.authentication.k8s.io/v1", Command: command, Args: args,
				InteractiveMode: clientcmdapi.IfAvailableExecInteractiveMode,
				InstallHint:     "drover logs you in to Drover: see the README of Drover for how to install it",
			}
		},
	})
	if err != nil {
		return err
	}
	if !o.Merge {
		b, err := kubeconfig.Marshal(kc)
		if err != nil {
			return err
		}
		_, err = o.out.Write(b)
		return err
	}
	return mergeKubeconfig(o, kc)
}

// pickClusters returns the clusters asked for (by id or name, in the
// order asked), or all of them.
func pickClusters(items []clusterItem, asked []string) ([]clusterItem, error) {
	if len(items) == 0 {
		return nil, errors.New("you may reach no cluster on this server; ask a Drover admin for a binding")
	}
	if len(asked) == 0 {
		return items, nil
	}
	var out []clusterItem
	for _, a := range asked {
		i := slices.IndexFunc(items, func(c clusterItem) bool { return c.ID == a })
		if i < 0 {
			i = slices.IndexFunc(items, func(c clusterItem) bool { return c.Name == a })
		}
		if i < 0 {
			return nil, fmt.Errorf("no cluster %q that you may reach (drover clusters lists them)", cli.Printable(a))
		}
		if !slices.ContainsFunc(out, func(c clusterItem) bool { return c.ID == items[i].ID }) {
			out = append(out, items[i])
		}
	}
	return out, nil
}

// currentCluster is the current context's cluster: the first asked for,
// else the first connected one, else the first.
func currentCluster(picked []clusterItem, asked bool) string {
	if !asked {
		for _, c := range picked {
			if c.State != "disconnected" {
				return c.ID
			}
		}
	}
	return picked[0].ID
}

// mergeKubeconfig writes kc's clusters, contexts and users into the user's
// kubeconfig (replacing entries of the same names) and makes kc's current
// context the current one.
func mergeKubeconfig(o *KubeconfigOptions, kc *clientcmdapi.Config) error {
	path := o.Kubeconfig
	if path == "" {
		path = clientcmd.NewDefaultClientConfigLoadingRules().GetDefaultFilename()
	}
	existing, err := clientcmd.LoadFromFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		existing = clientcmdapi.NewConfig()
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	}
	for k, v := range kc.Clusters {
		existing.Clusters[k] = v
	}
	for k, v := range kc.AuthInfos {
		existing.AuthInfos[k] = v
	}
	for k, v := range kc.Contexts {
		existing.Contexts[k] = v
	}
	existing.CurrentContext = kc.CurrentContext
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*existing, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(o.out, "Merged %d contexts into %s; the current context is %s.\n", len(kc.Contexts), path, cli.Printable(kc.CurrentContext))
	return nil
}

// sessionErr turns a refused session into the message a person can act on.
func sessionErr(s *cli.Server, err error) error {
	if cli.IsUnauthorized(err) {
		return fmt.Errorf("your session on %s has ended (%v): run drover login %s", s.URL, err, s.URL)
	}
	return err
}
