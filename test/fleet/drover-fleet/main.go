package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/drover-dev/drover/test/fleet"
)

func main() {
	os.Exit(run())
}

func run() int {
	var o fleet.Options
	var dir string
	var restart bool
	var limit time.Duration
	flag.IntVar(&o.Clusters, "clusters", 100, "clusters to simulate, one cluster agent each")
	flag.DurationVar(&o.Soak, "soak", 0, "keep the fleet connected this long after measuring it, sampling the server every minute")
	flag.DurationVar(&o.Settle, "settle", 20*time.Second, "idle time after the last agent connected, before measuring")
	flag.DurationVar(&o.Window, "window", 30*time.Second, "window over which idle CPU and controller requests are measured")
	flag.IntVar(&o.RampPerSecond, "ramp", 500, "agents started per second")
	flag.BoolVar(&restart, "restart", true, "restart the server at the end and time the agents' return")
	flag.BoolVar(&o.DumpGoroutines, "dump-goroutines", false, "end by making the server dump its goroutines (SIGQUIT) and count them by creator")
	flag.StringVar(&o.ServerBin, "server-bin", "", "drover-server binary (default: built)")
	flag.StringVar(&dir, "dir", "", "work directory (default: a temporary one, removed)")
	flag.DurationVar(&limit, "timeout", 0, "bound on the whole run (default: 10m + soak + 100ms a cluster)")
	flag.Parse()
	o.Restart = restart
	o.Progress = os.Stderr
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// remotedialer logs through logrus: thousands of agents' stream
	// closings would bury the figures.
	logrus.SetOutput(io.Discard)

	if err := raiseFileLimit(uint64(8*o.Clusters + 4096)); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 1
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "drover-fleet-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
			return 1
		}
		defer os.RemoveAll(d)
		dir = d
	}
	o.Dir = dir
	if limit <= 0 {
		limit = 10*time.Minute + o.Soak + time.Duration(o.Clusters)*100*time.Millisecond
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	res, err := fleet.Run(ctx, o)
	fmt.Fprint(os.Stderr, res.Report())
	fmt.Println(res.Line())
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		return 1
	}
	if res.Connected != o.Clusters || (o.Restart && res.Returned != o.Clusters) {
		return 1
	}
	return 0
}

// raiseFileLimit lifts the open-file limit to at least n (the hard limit
// too when the process may: as root).
func raiseFileLimit(n uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("open-file limit: %w", err)
	}
	if l.Cur >= n {
		return nil
	}
	want := syscall.Rlimit{Cur: n, Max: max(n, l.Max)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return nil
	}
	if l.Max >= n {
		want = syscall.Rlimit{Cur: n, Max: l.Max}
		return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
	}
	return fmt.Errorf("open-file limit %d is below the %d this fleet needs, and cannot be raised (run as root, or ulimit -n)", l.Max, n)
}
