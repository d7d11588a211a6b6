// Command driver-local is a Drover cluster driver that provisions real
// clusters on the machine it runs on: one etcd and one kube-apiserver per
// cluster, from the binaries `make testbed` builds, on loopback ports. It is
// the example driver (what a third-party driver looks like, built on
// pkg/driver/sdk) and what the end-to-end tests provision with.
//
// Drover starts it with one argument, the address to serve on (a port, or
// unix:/path), and stops it after every call. So it keeps nothing in memory:
// each cluster lives in a directory of its own (the config's dataDir, or
// $HOME/clusters/<cluster id>) holding its state file, PKI, etcd data, etcd
// snapshots, logs and pid files; the etcd and kube-apiserver processes run
// in sessions of their own, outlive the driver and are found again through
// their pid files (checked against /proc, so a reused pid is never taken
// for them). Remove stops them and deletes the directory.
//
// It must never listen on, or start anything that listens on, an address
// other than 127.0.0.1, nor delete a directory it did not create.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/pkg/cmdline"
	"github.com/drover-dev/drover/pkg/driver/sdk"
)

// Options are the driver's command line: its one argument.
type Options struct {
	// Addr is where to serve: a port on 127.0.0.1, host:port on loopback,
	// or unix:/path.
	Addr string
}

// NewOptions returns the defaults.
func NewOptions() *Options { return &Options{} }

// Flags registers the options on fs. There are none besides the argument:
// a cluster's settings come from its config, per call.
func (o *Options) Flags(*pflag.FlagSet) {}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Addr == "" {
		return errors.New("the address to serve on is required (a port, host:port or unix:/path)")
	}
	return sdk.CheckAddr(o.Addr)
}

func main() { os.Exit(cmdline.Main(newCommand(NewOptions(), run))) }

// newCommand is the driver's command line: its one argument is o.Addr
// (taken while the arguments are checked, so that a parse alone sets it).
func newCommand(o *Options, run func(context.Context, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "driver-local <port | host:port | unix:/path>",
		Short: "Drover cluster driver that provisions clusters on this machine",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return fmt.Errorf("unexpected argument %q: %s takes one address", args[1], cmd.CommandPath())
			}
			if len(args) == 1 {
				o.Addr = args[0]
			}
			return nil
		},
		RunE: cmdline.RunE(o, run),
	}
	o.Flags(cmd.Flags())
	return cmd
}

func run(ctx context.Context, o *Options) error {
	ln, err := sdk.Listen(o.Addr)
	if err != nil {
		return err
	}
	return sdk.NewServer(&localDriver{}).Serve(ctx, ln)
}
