package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/metrics"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/tunnel"
	"github.com/drover-dev/drover/test/postgres"
)

// TestReplicaOfAnotherCA: a replica serving another CA than the replicas
// live on its database (one given --ca-cert/--tls-cert beside replicas
// sharing the generated CA, or two given different ones) is refused at
// start: agents pin one CA and the replicas verify one another against
// it, so it would have split the service silently. With no replica live,
// a new CA is the service's (the operator replaced it everywhere).
func TestReplicaOfAnotherCA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg := postgres.StartT(t)
	db := pg.NewDatabaseT(t)
	log := slog.New(slog.DiscardHandler)
	cfg := Config{Database: store.PostgresOptions{URL: pg.URL(db), Password: pg.Password}, Logger: log, Now: time.Now}
	newCA := func() []byte {
		g, err := pki.Generate(nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return g.CACert
	}
	caX, caY, caZ := newCA(), newCA(), newCA()
	start := func(ctx context.Context, peer string, caPEM []byte) error {
		t.Helper()
		st, err := store.OpenPostgres(ctx, cfg.Database)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		c := cfg
		c.PeerURL = peer
		tun := tunnel.New(tunnel.Options{Store: st, Logger: log, Now: time.Now, Metrics: metrics.NewServer()})
		_, err = startReplica(ctx, c, st, tun, &pki.Material{CAPEM: caPEM, TrustPEM: caPEM}, metrics.NewServer())
		return err
	}
	first, stop := context.WithCancel(ctx)
	if err := start(first, "https://127.0.0.1:1", caX); err != nil {
		t.Fatalf("the first replica: %v", err)
	}
	if err := start(first, "https://127.0.0.1:2", caX); err != nil {
		t.Errorf("a replica of the same CA: %v", err)
	}
	err := start(first, "https://127.0.0.1:3", caY)
	if err == nil || !strings.Contains(err.Error(), "another CA") {
		t.Errorf("a replica of another CA while others are live: %v, want a refusal", err)
	}
	stop() // every replica stops beating
	time.Sleep(100 * time.Millisecond)
	st, err := store.OpenPostgres(ctx, cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.ForgetReplicas(ctx, -time.Hour); err != nil { // and is forgotten
		t.Fatal(err)
	}
	if err := start(ctx, "https://127.0.0.1:4", caZ); err != nil {
		t.Errorf("a new CA with no replica live: %v", err)
	}
	if err := start(ctx, "https://127.0.0.1:5", caX); err == nil {
		t.Error("the old CA after the service took a new one: no refusal")
	}
}
