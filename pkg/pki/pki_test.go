package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
	for _, f := range []string{"ca.key", "tls.key", "ca.crt", "tls.crt"} {
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

// Generate keeps what the server and the test harness rely on: a 10-year CA
// named drover-ca, a 2-year drover-server serving certificate, SEC 1 keys.
func TestGenerate(t *testing.T) {
	now := time.Date(2030, 2, 28, 12, 0, 0, 0, time.UTC)
	g, err := Generate([]string{"127.0.0.1", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	parse := func(b []byte) *x509.Certificate {
		t.Helper()
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatal("no PEM block")
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, leaf := parse(g.CACert), parse(g.Cert)
	type view struct {
		CN                  string
		NotBefore, NotAfter time.Time
	}
	got := []view{{ca.Subject.CommonName, ca.NotBefore, ca.NotAfter}, {leaf.Subject.CommonName, leaf.NotBefore, leaf.NotAfter}}
	want := []view{
		{"drover-ca", now.Add(-time.Hour), time.Date(2040, 2, 28, 12, 0, 0, 0, time.UTC)},
		{"drover-server", now.Add(-time.Hour), time.Date(2032, 2, 28, 12, 0, 0, 0, time.UTC)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("certificates (-want +got):\n%s", diff)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Errorf("serving certificate not signed by the CA: %v", err)
	}
	for _, k := range [][]byte{g.CAKey, g.Key} {
		if blk, _ := pem.Decode(k); blk == nil || blk.Type != "EC PRIVATE KEY" {
			t.Errorf("key block %v, want EC PRIVATE KEY", blk)
		}
	}
	if _, err := tls.X509KeyPair(g.Cert, g.Key); err != nil {
		t.Errorf("serving pair: %v", err)
	}
}

// TestInstallCA: a CA installed in an empty directory is the one
// LoadOrCreate serves a certificate from, for the hosts asked; a directory
// with a CA refuses another; a key that is not the certificate's is
// refused.
func TestInstallCA(t *testing.T) {
	now := time.Now()
	g, err := Generate([]string{"first"}, now)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tls")
	if err := InstallCA(dir, g.CACert, g.CAKey); err != nil {
		t.Fatal(err)
	}
	m, err := LoadOrCreate(dir, []string{"replica-2", "10.1.2.3"}, Files{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.CAPEM) != string(g.CACert) {
		t.Error("LoadOrCreate serves another CA")
	}
	leaf := m.Certificate.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(m.Certificate.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := leaf.VerifyHostname("replica-2"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("10.1.2.3"); err != nil {
		t.Error(err)
	}
	if err := InstallCA(dir, g.CACert, g.CAKey); err == nil {
		t.Error("a second CA installed over the first")
	}
	other, err := Generate(nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := InstallCA(t.TempDir(), g.CACert, other.CAKey); err == nil {
		t.Error("a CA with another CA's key installed")
	}
	cert, key, err := ReadCA(dir)
	if err != nil || string(cert) != string(g.CACert) || string(key) != string(g.CAKey) {
		t.Errorf("ReadCA: %v", err)
	}
}
