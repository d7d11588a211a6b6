// Command agent is Drover's cluster agent and node agent.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/drover-dev/drover/pkg/agent"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "auth-endpoint" {
		mainAuthEndpoint(os.Args[2:])
		return
	}
	opts := NewOptions(os.Getenv)
	fs := flag.NewFlagSet("drover-agent", flag.ExitOnError)
	opts.Flags(fs)
	fs.Parse(os.Args[1:])
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "drover-agent: invalid options:\n%v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintf(os.Stderr, "drover-agent: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *Options) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// remotedialer logs through logrus; keep only its warnings and errors.
	logrus.SetLevel(logrus.WarnLevel)
	return agent.Run(ctx, agent.Options{
		ServerURL: o.ServerURL, CAChecksum: o.CAChecksum, TokenFile: o.TokenFile,
		Kubeconfig: o.Kubeconfig, Kind: o.Kind, NodeName: o.NodeName, HealthListen: o.HealthListen,
		BackoffMax: o.BackoffMax, TokenTTL: o.TokenTTL, Logger: logger,
	})
}

// mainAuthEndpoint runs kube-api-auth, the authorized cluster endpoint's
// TokenReview webhook.
func mainAuthEndpoint(args []string) {
	opts := NewAuthEndpointOptions()
	fs := flag.NewFlagSet("drover-agent auth-endpoint", flag.ExitOnError)
	opts.Flags(fs)
	fs.Parse(args)
	if err := opts.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "drover-agent auth-endpoint: invalid options:\n%v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runAuthEndpoint(ctx, opts); err != nil {
		fmt.Fprintf(os.Stderr, "drover-agent auth-endpoint: %v\n", err)
		os.Exit(1)
	}
}
