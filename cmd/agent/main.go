// Command agent is Drover's cluster agent and node agent.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/agent"
	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/version"
)

func main() {
	os.Exit(cmdline.Main(newCommand(NewOptions(os.Getenv), run, NewAuthEndpointOptions(), runAuthEndpoint)))
}

// newCommand is the drover-agent command line: the agent itself, set by
// o's flags (their defaults come from the CATTLE_* environment), and its
// auth-endpoint subcommand, set by ae's.
func newCommand(o *Options, run func(context.Context, *Options) error,
	ae *AuthEndpointOptions, runAE func(context.Context, *AuthEndpointOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drover-agent",
		Short: "Drover's cluster agent and node agent",
		Long: "drover-agent runs in a downstream cluster: it opens a tunnel to the Drover server\n" +
			"and serves the server's requests to the cluster's apiserver through it.\n" +
			"Each flag defaults to the CATTLE_* variable named in its help.",
		Args: cmdline.NoArgs,
		RunE: cmdline.RunE(o, run),
	}
	o.Flags(cmd.Flags())
	sub := &cobra.Command{
		Use:   "auth-endpoint",
		Short: "Serve kube-api-auth, the authorized cluster endpoint's TokenReview webhook",
		Args:  cmdline.NoArgs,
		RunE:  cmdline.RunE(ae, runAE),
	}
	ae.Flags(sub.Flags())
	cmd.AddCommand(sub)
	return cmd
}

func run(ctx context.Context, o *Options) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	logger.Info("drover-agent starting", version.Get().LogAttrs()...)
	// remotedialer logs through logrus; keep only its warnings and errors.
	logrus.SetLevel(logrus.WarnLevel)
	return agent.Run(ctx, agent.Options{
		ServerURL: o.ServerURL, CAChecksum: o.CAChecksum, TokenFile: o.TokenFile,
		Kubeconfig: o.Kubeconfig, Kind: o.Kind, NodeName: o.NodeName, HealthListen: o.HealthListen,
		Version:    version.Get().Version,
		BackoffMax: o.BackoffMax, TokenTTL: o.TokenTTL, Logger: logger,
	})
}
