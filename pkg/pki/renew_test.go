package pki

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func leafOf(t *testing.T, m *Material) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(m.Keeper.Current().Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServingCertificateRenewed: the generated serving certificate is
// issued anew from the same CA when a host is added (keeping the names it
// had) or when it nears its expiry, at start and while serving; the CA,
// which agents pin, never changes.
func TestServingCertificateRenewed(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	m, err := LoadOrCreate(dir, []string{"127.0.0.1", "drover.old"}, Files{}, start)
	if err != nil || m.Renewed != "" {
		t.Fatalf("first start: %v, renewed %q", err, m.Renewed)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	verify := func(t *testing.T, m *Material, host string, at time.Time) {
		t.Helper()
		if _, err := leafOf(t, m).Verify(x509.VerifyOptions{Roots: pool, DNSName: host, CurrentTime: at}); err != nil {
			t.Errorf("%s at %v: %v", host, at, err)
		}
	}

	again, err := LoadOrCreate(dir, []string{"127.0.0.1", "drover.old"}, Files{}, start.Add(time.Hour))
	if err != nil || again.Renewed != "" {
		t.Errorf("a second start with the same names: %v, renewed %q", err, again.Renewed)
	}
	moved, err := LoadOrCreate(dir, []string{"127.0.0.1", "drover.example.com"}, Files{}, start.Add(24*time.Hour))
	if err != nil || !strings.Contains(moved.Renewed, "drover.example.com") {
		t.Fatalf("a new server URL: %v, renewed %q", err, moved.Renewed)
	}
	verify(t, moved, "drover.example.com", start.Add(24*time.Hour))
	verify(t, moved, "drover.old", start.Add(24*time.Hour)) // clients of the old name go on
	if now, _ := os.ReadFile(filepath.Join(dir, "ca.crt")); !bytes.Equal(now, ca) || !bytes.Equal(moved.CAPEM, ca) {
		t.Error("the CA changed")
	}

	// While serving: nothing to do until 90 days before the expiry.
	expiry := leafOf(t, moved).NotAfter
	if why, err := moved.Keeper.Renew(expiry.Add(-100 * 24 * time.Hour)); err != nil || why != "" {
		t.Errorf("100 days before the expiry: %q, %v", why, err)
	}
	late := expiry.Add(-30 * 24 * time.Hour)
	why, err := moved.Keeper.Renew(late)
	if err != nil || !strings.Contains(why, "expires") {
		t.Fatalf("30 days before the expiry: %q, %v", why, err)
	}
	if got := leafOf(t, moved).NotAfter; !got.After(late.AddDate(1, 11, 0)) {
		t.Errorf("the renewed certificate ends %v", got)
	}
	verify(t, moved, "drover.example.com", late)
	// The next start loads what was written.
	next, err := LoadOrCreate(dir, []string{"127.0.0.1", "drover.example.com"}, Files{}, late)
	if err != nil || next.Renewed != "" || !leafOf(t, next).NotAfter.Equal(leafOf(t, moved).NotAfter) {
		t.Errorf("the start after a renewal: %v, renewed %q", err, next.Renewed)
	}
}

// TestSuppliedCertificateKept: a certificate the user supplied is served
// as it is, whatever its names and expiry.
func TestSuppliedCertificateKept(t *testing.T) {
	dir := t.TempDir()
	g, err := Generate([]string{"supplied.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	files := Files{CACert: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key")}
	os.WriteFile(files.CACert, g.CACert, 0o600)
	os.WriteFile(files.Cert, g.Cert, 0o600)
	os.WriteFile(files.Key, g.Key, 0o600)
	m, err := LoadOrCreate(filepath.Join(dir, "tls"), []string{"other.example"}, files, time.Now())
	if err != nil || m.Renewed != "" {
		t.Fatalf("%v, renewed %q", err, m.Renewed)
	}
	if why, err := m.Keeper.Renew(time.Now().AddDate(5, 0, 0)); why != "" || err != nil {
		t.Errorf("renewing a supplied certificate: %q, %v", why, err)
	}
	if b, _ := os.ReadFile(files.Cert); !bytes.Equal(b, g.Cert) {
		t.Error("the supplied certificate was rewritten")
	}
}
