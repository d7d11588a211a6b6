package replica

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/test/postgres"
)

// recorder is an Apply that records what it was told.
type recorder struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 100)} }

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recorder) apply() Apply {
	return Apply{
		Revoked:        func(id string) { r.add("revoked " + id) },
		AccessChanged:  func() { r.add("access") },
		ClusterRemoved: func(id string) { r.add("cluster " + id) },
	}
}

func (r *recorder) wait(t *testing.T, n int) []string {
	t.Helper()
	for range n {
		select {
		case <-r.ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("waited 10s for event %d of %d", len(r.got)+1, n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

// TestBus: on a real PostgreSQL, what one replica publishes reaches the
// other (and not itself) in order; when the other's listening connection
// is cut it listens again and, having maybe missed events, re-checks
// everything (an access change).
func TestBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg := postgres.StartT(t)
	db := pg.NewDatabaseT(t)
	open := func() *store.Store {
		st, err := store.OpenPostgres(ctx, store.PostgresOptions{URL: pg.URL(db), Password: pg.Password})
		must(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	log := slog.New(slog.DiscardHandler)
	stA, stB := open(), open()
	regA, err := New(Options{Store: stA, Logger: log, URL: "https://127.0.0.1:1"})
	must(t, err)
	regB, err := New(Options{Store: stB, Logger: log, URL: "https://127.0.0.1:2"})
	must(t, err)
	recA, recB := newRecorder(), newRecorder()
	busA, busB := NewBus(stA, regA, recA.apply(), log), NewBus(stB, regB, recB.apply(), log)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Go(func() { busA.Run(runCtx) })
	wg.Go(func() { busB.Run(runCtx) })
	time.Sleep(500 * time.Millisecond) // both listen

	busA.Revoked("t-0123456789")
	busA.Revoked("s-0123456789")
	busA.AccessChanged()
	busA.ClusterRemoved("c-abcde")
	if diff := cmp.Diff([]string{"revoked t-0123456789", "revoked s-0123456789", "access", "cluster c-abcde"}, recB.wait(t, 4)); diff != "" {
		t.Errorf("B got (-want +got):\n%s", diff)
	}
	select {
	case <-recA.ch:
		t.Errorf("A applied its own events: %v", recA.got)
	case <-time.After(200 * time.Millisecond):
	}

	c, err := pg.Connect(ctx, db)
	must(t, err)
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND pid != pg_backend_pid() AND query LIKE 'LISTEN%'`, db); err != nil {
		t.Fatal(err)
	}
	// Both listeners were cut: each re-checks everything once back.
	if diff := cmp.Diff([]string{"access"}, recB.wait(t, 1)); diff != "" {
		t.Errorf("B after its connection was cut (-want +got):\n%s", diff)
	}
	recA.wait(t, 1)
	busA.Revoked("t-abcdefghij")
	if diff := cmp.Diff([]string{"revoked t-abcdefghij"}, recB.wait(t, 1)); diff != "" {
		t.Errorf("B listening again (-want +got):\n%s", diff)
	}
}

// FuzzApply: no payload crashes the bus, and only well-formed events of
// another replica with valid ids reach the handlers.
func FuzzApply(f *testing.F) {
	for _, s := range []string{"i-0123456789 token t-0123456789", "i-0123456789 access", "i-0123456789 cluster c-abcde",
		"i-0123456789 token x", "", " ", "i-self00000 access", "i-0123456789 cluster c-abcde extra"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		b := &Bus{self: "i-self000000", log: slog.New(slog.DiscardHandler), local: Apply{
			Revoked: func(id string) {
				if !ids.Token.Valid(id) && !ids.Session.Valid(id) {
					t.Fatalf("revoked %q", id)
				}
			},
			AccessChanged: func() {},
			ClusterRemoved: func(id string) {
				if !ids.Cluster.Valid(id) {
					t.Fatalf("cluster %q", id)
				}
			},
		}}
		b.apply(payload)
	})
}
