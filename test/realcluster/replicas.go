package realcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/test/haproxy"
	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/postgres"
)

// startReplicas starts o.Replicas servers on the cluster's host address, on
// a PostgreSQL of their own, sharing one secrets key, and HAProxy on front
// (the URL agents and kubeconfigs get); e.Server becomes the front.
func (e *Env) startReplicas(ctx context.Context, o Options, front string, args []string) error {
	var err error
	if e.Postgres, err = postgres.Start(ctx); err != nil {
		return err
	}
	db, err := e.Postgres.NewDatabase(ctx)
	if err != nil {
		return err
	}
	dir := filepath.Join(o.Dir, "servers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pwFile := filepath.Join(dir, "db-password")
	if err := os.WriteFile(pwFile, []byte(e.Postgres.Password+"\n"), 0o600); err != nil {
		return err
	}
	shared := []string{"--database-url", e.Postgres.URL(db), "--database-password-file", pwFile,
		"--secrets-key-file", filepath.Join(dir, "secrets.key"), "--server-url", "https://" + front}
	var backends []string
	for i := range o.Replicas {
		addr, err := freeAddr(e.Cluster.HostIP)
		if err != nil {
			return err
		}
		r, err := harness.StartServer(ctx, harness.ServerOptions{Bin: e.Bins.Server, DataDir: filepath.Join(dir, fmt.Sprintf("r%d", i+1)),
			Listen: addr, Args: append(append(append([]string{}, args...), shared...), "--peer-url", "https://"+addr)})
		if err != nil {
			return err
		}
		e.Replicas = append(e.Replicas, r)
		backends = append(backends, addr)
	}
	first := e.Replicas[0]
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, first.CAPEM, 0o600); err != nil {
		return err
	}
	if e.LB, err = haproxy.StartAt(ctx, front, haproxy.Options{Backends: backends, CAFile: caFile}); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := e.LB.WaitUp(wctx, o.Replicas); err != nil {
		return err
	}
	e.Server = &harness.Server{Process: first.Process, URL: "https://" + front, Listen: front, DataDir: first.DataDir,
		CAPEM: first.CAPEM, CAChecksum: first.CAChecksum, AdminPassword: first.AdminPassword}
	return nil
}
