package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/cli"
	"github.com/drover-dev/drover/pkg/cmdline"
)

// clusterView is what drover shows of a cluster (GET /v3/clusters).
type clusterView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"createdAt"`
	Tunnel    struct {
		Via            string    `json:"via"`
		DisconnectedAt time.Time `json:"disconnectedAt"`
	} `json:"tunnel"`
	Status *struct {
		KubernetesVersion string            `json:"kubernetesVersion"`
		Nodes             []json.RawMessage `json:"nodes"`
		Warnings          []json.RawMessage `json:"warnings"`
	} `json:"status"`
	Provisioning *struct {
		Driver  string `json:"driver"`
		Phase   string `json:"phase"`
		Message string `json:"message"`
		Error   string `json:"error"`
	} `json:"provisioning"`
}

func clusterRows(o *apiOptions, cs []clusterView) [][]string {
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		version, nodes, warnings := "", "", ""
		if c.Status != nil {
			version, nodes = c.Status.KubernetesVersion, strconv.Itoa(len(c.Status.Nodes))
			warnings = strconv.Itoa(len(c.Status.Warnings))
		}
		state := c.State
		if c.Provisioning != nil && c.Provisioning.Phase != "active" {
			state = c.Provisioning.Phase
		} else if state == "disconnected" && !c.Tunnel.DisconnectedAt.IsZero() {
			state += " " + o.age(c.Tunnel.DisconnectedAt)
		}
		rows = append(rows, []string{c.Name, c.ID, state, c.Tunnel.Via, version, nodes, warnings, o.age(c.CreatedAt)})
	}
	return rows
}

var clusterHeader = []string{"NAME", "ID", "STATE", "VIA", "VERSION", "NODES", "WARNINGS", "AGE"}

func newClustersCommand(g *global) *cobra.Command {
	o := &apiOptions{global: g}
	cmd := &cobra.Command{
		Use:   "clusters",
		Short: "List, show, import and delete clusters",
		Long: "With no subcommand, list the clusters you may reach, with their connection state\n" +
			"(VIA: the cluster agent, or a node agent while no cluster agent is connected).",
		Example: "  drover clusters\n  drover clusters get prod -o yaml\n" +
			"  drover clusters create staging        # prints the kubectl apply command\n  drover clusters delete staging",
		Args: cmdline.NoArgs,
	}
	o.Flags(cmd.PersistentFlags())
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		return cmdline.RunE(o, listClusters)(c, args)
	}
	cmd.AddCommand(newClusterGetCommand(o), newClusterCreateCommand(o), newClusterDeleteCommand(o))
	return cmd
}

func fetchClusters(ctx context.Context, o *apiOptions) ([]clusterView, []any, error) {
	var list struct{ Items []json.RawMessage }
	if err := o.call(ctx, http.MethodGet, "/v3/clusters", nil, &list); err != nil {
		return nil, nil, err
	}
	views := make([]clusterView, len(list.Items))
	raw := make([]any, len(list.Items))
	for i, item := range list.Items {
		if err := json.Unmarshal(item, &views[i]); err != nil {
			return nil, nil, fmt.Errorf("a cluster in the answer: %w", err)
		}
		json.Unmarshal(item, &raw[i])
	}
	return views, raw, nil
}

func listClusters(ctx context.Context, o *apiOptions) error {
	views, raw, err := fetchClusters(ctx, o)
	if err != nil {
		return err
	}
	return o.print(map[string]any{"items": raw}, clusterHeader, clusterRows(o, views))
}

// clusterArgs are the commands that name one cluster (by id or name).
type clusterArgs struct {
	*apiOptions
	Cluster string
	Force   bool
}

func (o *clusterArgs) Validate() error { return o.apiOptions.Validate() }

// resolve returns the id of the cluster named by id or name.
func (o *clusterArgs) resolve(ctx context.Context) (string, error) {
	views, _, err := fetchClusters(ctx, o.apiOptions)
	if err != nil {
		return "", err
	}
	for _, c := range views {
		if c.ID == o.Cluster {
			return c.ID, nil
		}
	}
	for _, c := range views {
		if c.Name == o.Cluster {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("no cluster %q that you may reach (drover clusters lists them)", cli.Printable(o.Cluster))
}

func oneCluster(o *apiOptions, use, short, example string, run func(context.Context, *clusterArgs) error) *cobra.Command {
	a := &clusterArgs{apiOptions: o}
	cmd := &cobra.Command{Use: use + " <cluster>", Short: short, Example: example, Args: cobra.ExactArgs(1),
		ValidArgsFunction: completeClusters(o)}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		a.Cluster = args[0]
		return cmdline.RunE(a, run)(c, args)
	}
	return cmd
}

func newClusterGetCommand(o *apiOptions) *cobra.Command {
	return oneCluster(o, "get", "Show a cluster (by id or name)", "  drover clusters get prod\n  drover clusters get c-x7k2p -o json",
		func(ctx context.Context, a *clusterArgs) error {
			id, err := a.resolve(ctx)
			if err != nil {
				return err
			}
			var v clusterView
			m, err := a.fetch(ctx, http.MethodGet, "/v3/clusters/"+id, nil, &v)
			if err != nil {
				return err
			}
			return a.print(m, clusterHeader, clusterRows(a.apiOptions, []clusterView{v}))
		})
}

func newClusterDeleteCommand(o *apiOptions) *cobra.Command {
	var force bool
	cmd := oneCluster(o, "delete", "Delete a cluster: its tokens, its agents' tunnels, and (for a driver's cluster) the cluster itself",
		"  drover clusters delete staging\n  drover clusters delete broken --force   # a driver cluster in phase error, without the driver",
		func(ctx context.Context, a *clusterArgs) error {
			id, err := a.resolve(ctx)
			if err != nil {
				return err
			}
			path := "/v3/clusters/" + id
			if force {
				path += "?" + url.Values{"force": {"true"}}.Encode()
			}
			if err := a.call(ctx, http.MethodDelete, path, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "Cluster %s (%s) deleted.\n", cli.Printable(a.Cluster), id)
			return nil
		})
	cmd.Flags().BoolVar(&force, "force", false, "delete a driver's cluster in phase error without calling its driver")
	return cmd
}

// createOptions are drover clusters create's command line.
type createOptions struct {
	*apiOptions
	Name       string
	Driver     string
	Set        []string
	ConfigFile string
	Wait       time.Duration
	// poll is how often the progress is read (--poll, hidden; default 2 s).
	poll time.Duration
}

func (o *createOptions) Validate() error {
	if (len(o.Set) > 0 || o.ConfigFile != "") && o.Driver == "" {
		return errors.New("--set and --config-file configure a driver: add --driver")
	}
	return o.apiOptions.Validate()
}

func newClusterCreateCommand(ao *apiOptions) *cobra.Command {
	o := &createOptions{apiOptions: ao}
	cmd := &cobra.Command{
		Use:   "create <name>",
		Short: "Import a cluster (prints the command to run in it), or provision one with a driver",
		Long: "Without --driver, create a cluster to import and print the kubectl apply command\n" +
			"that installs its agent (the registration token in it is shown once).\n" +
			"With --driver, provision it: the configuration comes from --config-file (JSON) and\n" +
			"--set field=value (fields of `drover drivers schema <driver>`), and the progress of the\n" +
			"long operation is shown until the cluster is active, fails, or --wait passes.",
		Example: "  drover clusters create staging\n" +
			"  drover clusters create lab --driver local --set etcdQuotaMb=512 --wait 20m",
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&o.Driver, "driver", "", "provision with this cluster driver instead of importing")
	cmd.Flags().StringArrayVar(&o.Set, "set", nil, "a driver config field, field=value (repeatable; numbers and true/false are typed)")
	cmd.Flags().StringVar(&o.ConfigFile, "config-file", "", "the driver config as a JSON object (--set overrides its fields)")
	cmd.Flags().DurationVar(&o.Wait, "wait", 15*time.Minute, "with --driver, how long to show progress (0: do not wait)")
	cmd.Flags().DurationVar(&o.poll, "poll", 2*time.Second, "how often the progress is read")
	cmd.Flags().MarkHidden("poll")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.set(c, nil)
		o.Name = args[0]
		return cmdline.RunE(o, createCluster)(c, args)
	}
	return cmd
}

func createCluster(ctx context.Context, o *createOptions) error {
	body := map[string]any{"name": o.Name}
	if o.Driver != "" {
		config, err := driverConfig(o.ConfigFile, o.Set)
		if err != nil {
			return err
		}
		body["driver"], body["config"] = o.Driver, config
	}
	var resp struct {
		Cluster      clusterView `json:"cluster"`
		Registration *struct {
			ImportCommand string `json:"importCommand"`
			Command       string `json:"command"`
			Warning       string `json:"warning"`
		} `json:"registration"`
	}
	var raw json.RawMessage
	if err := o.call(ctx, http.MethodPost, "/v3/clusters", body, &raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &resp); err != nil || resp.Cluster.ID == "" {
		return errors.New("the server's answer names no cluster")
	}
	if o.Output != "table" {
		var m any
		json.Unmarshal(raw, &m)
		return o.print(m, nil, nil)
	}
	if reg := resp.Registration; reg != nil {
		fmt.Fprintf(o.out, "Cluster %s (%s) created. To import it, run this where kubectl reaches the cluster\n"+
			"(it checks Drover's CA, then applies the agents; the registration token in it is shown only now):\n\n  %s\n",
			cli.Printable(resp.Cluster.Name), resp.Cluster.ID, cli.Printable(reg.ImportCommand))
		fmt.Fprintf(o.out, "\nOr run the agent outside the cluster:\n\n  %s\n", cli.Printable(reg.Command))
		if reg.Warning != "" {
			fmt.Fprintf(o.err, "\nWarning: %s\n", cli.Printable(reg.Warning))
		}
		return nil
	}
	fmt.Fprintf(o.out, "Cluster %s (%s) is being provisioned by driver %s.\n", cli.Printable(resp.Cluster.Name), resp.Cluster.ID, cli.Printable(o.Driver))
	if o.Wait <= 0 {
		return nil
	}
	return followProvisioning(ctx, o.apiOptions, resp.Cluster.ID, o.Wait, o.poll)
}

// driverConfig merges a JSON config file and field=value settings.
func driverConfig(file string, set []string) (map[string]any, error) {
	config := map[string]any{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &config); err != nil {
			return nil, fmt.Errorf("%s: a JSON object of driver fields: %w", file, err)
		}
	}
	for _, kv := range set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want field=value", kv)
		}
		switch {
		case v == "true" || v == "false":
			config[k] = v == "true"
		default:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				config[k] = n
			} else {
				config[k] = v
			}
		}
	}
	return config, nil
}

// followProvisioning prints each new phase of a driver's cluster until it
// is active, fails, or wait passes.
func followProvisioning(ctx context.Context, o *apiOptions, id string, wait, poll time.Duration) error {
	if poll <= 0 {
		poll = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	start, last := time.Now(), ""
	for {
		var v clusterView
		err := o.call(ctx, http.MethodGet, "/v3/clusters/"+id, nil, &v)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if v.Provisioning != nil {
			line := v.Provisioning.Phase + ": " + v.Provisioning.Message
			if line != last {
				fmt.Fprintf(o.out, "%6s  %s\n", time.Since(start).Round(time.Second), cli.Printable(line))
				last = line
			}
			switch v.Provisioning.Phase {
			case "active":
				return nil
			case "error":
				msg := v.Provisioning.Error
				if msg == "" {
					msg = v.Provisioning.Message
				}
				return fmt.Errorf("provisioning %s failed: %s", id, cli.Printable(msg))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s is still %s after %v (drover clusters get %s shows its progress)", id, last, wait, id)
		case <-time.After(poll):
		}
	}
}

// completeClusters completes a cluster argument with the names of the
// clusters the user may reach.
func completeClusters(o *apiOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		o.set(c, nil)
		views, _, err := fetchClusters(c.Context(), o)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names := make([]string, 0, len(views))
		for _, v := range views {
			names = append(names, v.Name+"\t"+v.ID+" "+v.State)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
