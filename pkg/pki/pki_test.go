package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	m, err := LoadOrCreate(dir, []string{"localhost", "127.0.0.1", "drover.example"}, Files{}, now)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(dir, []string{"other"}, Files{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Checksum() != again.Checksum() {
		t.Error("second start generated a new CA")
	}
	if len(m.Checksum()) != 64 {
		t.Errorf("checksum %q is not hex SHA-256", m.Checksum())
	}
	for _, f := range []string{"ca.key", "tls.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	leaf, err := x509.ParseCertificate(m.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CAPEM)
	for _, name := range []string{"localhost", "127.0.0.1", "drover.example"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("serving cert does not verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "evil.example"}); err == nil {
		t.Error("serving cert verifies for a name it was not issued for")
	}

	// User-supplied files are used as given.
	user, err := LoadOrCreate(t.TempDir(), nil, Files{
		CACert: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key"),
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if user.Checksum() != m.Checksum() {
		t.Error("user-supplied CA not used")
	}
	if _, err := LoadOrCreate(t.TempDir(), nil, Files{CACert: filepath.Join(dir, "tls.key"), Cert: "x", Key: "y"}, now); err == nil {
		t.Error("a key file accepted as CA certificate")
	}
}
