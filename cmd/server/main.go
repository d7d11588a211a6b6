// Command server is the Drover management server.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/driver/sandbox"
	"github.com/drover-dev/drover/pkg/server"
	"github.com/drover-dev/drover/pkg/tracing"
	"github.com/drover-dev/drover/pkg/version"
)

func main() {
	// Started as the driver sandbox's helper, the binary never gets past
	// this: it confines and execs a driver.
	sandbox.Init()
	os.Exit(cmdline.Main(newCommand(commands{
		Server: NewOptions(), Run: run,
		Reset: NewResetOptions(), RunReset: runReset,
		Backup: &BackupOptions{}, RunBackup: func(ctx context.Context, o *BackupOptions) error {
			return runBackup(ctx, o, os.Stdout, os.Stderr)
		},
		Restore: &BackupOptions{}, RunRestore: func(ctx context.Context, o *BackupOptions) error {
			return runRestore(ctx, o, os.Stdout)
		},
		Copy: &CopyOptions{}, RunCopy: func(ctx context.Context, o *CopyOptions) error {
			return runCopy(ctx, o, os.Stdout)
		},
		Rotate: &RotateOptions{}, RunRotate: func(_ context.Context, o *RotateOptions) error {
			return runRotate(o, os.Stdout, time.Now())
		},
	})))
}

// commands are the command line's options and what runs with them: the
// server, and its offline subcommands.
type commands struct {
	Server     *Options
	Run        func(context.Context, *Options) error
	Reset      *ResetOptions
	RunReset   func(context.Context, *ResetOptions) error
	Backup     *BackupOptions
	RunBackup  func(context.Context, *BackupOptions) error
	Restore    *BackupOptions
	RunRestore func(context.Context, *BackupOptions) error
	Copy       *CopyOptions
	RunCopy    func(context.Context, *CopyOptions) error
	Rotate     *RotateOptions
	RunRotate  func(context.Context, *RotateOptions) error
}

// newCommand is the drover-server command line: its flags set c.Server,
// and a valid one is passed to c.Run; its subcommands (reset-admin-password,
// backup, restore, copy-to-postgres) likewise.
func newCommand(c commands) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drover-server",
		Short: "Drover management server",
		Long: "drover-server serves the Drover API, authenticates users and forwards\n" +
			"their Kubernetes requests to downstream clusters through their agents' tunnels.",
		Args: cmdline.NoArgs,
		RunE: cmdline.RunE(c.Server, c.Run),
	}
	c.Server.Flags(cmd.Flags())
	cmd.AddCommand(newResetCommand(c.Reset, c.RunReset),
		newBackupCommand(c.Backup, c.RunBackup), newRestoreCommand(c.Restore, c.RunRestore),
		newCopyCommand(c.Copy, c.RunCopy), newRotateCommand(c.Rotate, c.RunRotate))
	return cmd
}

func run(ctx context.Context, o *Options) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	logger.Info("drover-server starting", version.Get().LogAttrs()...)
	if o.LoopbackOnly() {
		logger.Warn("the server listens on loopback and gives agents a loopback URL: only this machine can reach it; "+
			"for clusters elsewhere, listen on their network and set --server-url to the address they reach", "listen", o.Listen, "url", o.ServerURL)
	}
	// remotedialer logs through logrus; keep only its warnings and errors.
	logrus.SetLevel(logrus.WarnLevel)
	conns, body, client := o.limits()
	database, err := o.Database.Postgres()
	if err != nil {
		return err
	}
	return server.Run(ctx, server.Config{
		Database: database, PeerURL: o.PeerURL,
		Conns: conns, Body: body, Client: client,
		Audit: o.audit(), MaxRequestsPerUser: o.MaxRequestsPerUser,
		DataDir: o.DataDir, Listen: o.Listen, MetricsListen: o.MetricsListen, ServerURL: o.ServerURL,
		Hostnames: o.hostnames(), TLS: o.tlsFiles(),
		AdminUsername: o.AdminUsername, BootstrapPasswordFile: o.BootstrapPasswordFile, SessionTTL: o.SessionTTL, KubeconfigTTL: o.KubeconfigTTL,
		MaxTokenTTL: o.MaxTokenTTL, PluginTTL: o.PluginTTL, PluginACETTL: o.PluginACETTL, RegistrationTTL: o.RegistrationTTL,
		RegistrationGrace: o.RegistrationGrace, AgentImage: o.AgentImage, Rollout: o.Rollout.options(o.AgentImage),
		Logger: logger, Stdout: os.Stdout,
		DriverDir: o.DriverDir, SecretsKeyFile: o.SecretsKeyFile, DriverAnswerTimeout: o.DriverAnswerTimeout,
		DriverStateDir: o.DriverStateDir, DriverSandbox: o.driverSandbox(), AllowUnsandboxedDrivers: o.AllowUnsandboxedDrivers,
		GroupRefreshInterval: o.GroupRefreshInterval,
		Tracing: tracing.Options{Endpoint: o.TraceEndpoint, CAFile: o.TraceCAFile, SampleRatio: o.TraceSampleRatio,
			Service: "drover-server", Version: version.Get().Version, Instance: instanceName(o), Logger: logger},
	})
}

// instanceName names this process in its traces: the host and the
// listening address, which tell replicas apart.
func instanceName(o *Options) string {
	host, _ := os.Hostname()
	return host + "/" + o.Listen
}
