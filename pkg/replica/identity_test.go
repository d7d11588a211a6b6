package replica

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/store"
)

func newSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	s, err := seal.New(key)
	must(t, err)
	return s
}

// TestServiceIdentity: a replica with another secrets key is refused; the
// shared CA is installed into an empty tls directory and a directory
// holding another CA is refused; a replica serving another CA than the
// live replicas (however it got it) is refused.
func TestServiceIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	must(t, err)
	defer st.Close()
	now := time.Now()
	key, other := newSealer(t), newSealer(t)

	must(t, CheckSecretsKey(ctx, st, key, now))
	must(t, CheckSecretsKey(ctx, st, key, now))
	if err := CheckSecretsKey(ctx, st, other, now); err == nil {
		t.Error("another secrets key: no refusal")
	}

	first, second := t.TempDir(), t.TempDir()
	must(t, ShareCA(ctx, st, key, first, now))
	must(t, ShareCA(ctx, st, key, second, now))
	c1, _, err := pki.ReadCA(first)
	must(t, err)
	c2, _, err := pki.ReadCA(second)
	must(t, err)
	if !bytes.Equal(c1, c2) {
		t.Error("two replicas took different CAs")
	}
	if err := ShareCA(ctx, st, other, t.TempDir(), now); err == nil {
		t.Error("the shared CA opened with another secrets key")
	}
	own := t.TempDir()
	g, err := pki.Generate(nil, now)
	must(t, err)
	must(t, pki.InstallCA(own, g.CACert, g.CAKey))
	if err := ShareCA(ctx, st, key, own, now); err == nil || !strings.Contains(err.Error(), "another CA") {
		t.Errorf("a tls directory of another CA: %v, want a refusal", err)
	}
	if got, _ := os.ReadFile(filepath.Join(own, "ca.crt")); !bytes.Equal(got, g.CACert) {
		t.Error("the refused directory's CA was replaced")
	}

	log := slog.New(slog.DiscardHandler)
	must(t, CheckCA(ctx, st, c1, DefaultDead, now, log))
	reg, err := New(Options{Store: st, Logger: log, URL: "https://127.0.0.1:1"})
	must(t, err)
	must(t, reg.Join(ctx))
	if err := CheckCA(ctx, st, g.CACert, DefaultDead, now, log); err == nil || !strings.Contains(err.Error(), "another CA") {
		t.Errorf("another CA while a replica is live: %v, want a refusal", err)
	}
	must(t, CheckCA(ctx, st, c1, DefaultDead, now, log))
}
