package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/checksum"
)

// Material is the server's loaded TLS material.
type Material struct {
	// CAPEM is the CA certificate as served at /cacerts; agents pin its checksum.
	CAPEM []byte
	// Certificate is the serving certificate with its key, as loaded.
	Certificate tls.Certificate
	// Keeper serves the serving certificate and issues it anew.
	Keeper *Keeper
	// Renewed says why LoadOrCreate issued the serving certificate anew
	// ("" when it did not).
	Renewed string
	// TrustPEM is what clients are told to trust: the CA, and while a CA
	// rotation is prepared the next one too (kubeconfigs embed it).
	TrustPEM []byte
	// LineagePEM is the CA lineage (agentapi.Lineage), served beside /cacerts; empty
	// when the CA was never rotated.
	LineagePEM []byte
	// Rotation is the state of the CA rotation.
	Rotation Rotation
}

// Instance is the checksum of the service's first CA (the first of the
// lineage): it names this installation and, unlike Checksum, does not
// change when the CA is rotated.
func (m *Material) Instance() string {
	if l, err := agentapi.ParseLineage(m.LineagePEM); err == nil && len(l.CAs) > 0 {
		return checksum.Of(CertPEM(l.CAs[0]))
	}
	return m.Checksum()
}

// Checksum is the checksum (package checksum: lower-case hex SHA-256) of
// the CA PEM, the value agents get as CATTLE_CA_CHECKSUM.
func (m *Material) Checksum() string { return checksum.Of(m.CAPEM) }

// Files names user-supplied material. All three set, or none.
type Files struct {
	CACert, Cert, Key string
}

// LoadOrCreate loads user-supplied files if given; otherwise it loads the
// material under dir, generating a CA and a serving certificate for hosts
// (DNS names or IPs) on first start.
//
// The generated serving certificate is issued anew from the same CA when
// it does not name every host or nears its expiry (Keeper).
func LoadOrCreate(dir string, hosts []string, files Files, now time.Time) (*Material, error) {
	if files.Cert != "" {
		m, err := load(files.CACert, files.Cert, files.Key)
		if err != nil {
			return nil, err
		}
		m.Keeper = &Keeper{cert: &m.Certificate}
		m.TrustPEM = m.CAPEM
		m.Rotation = Rotation{Current: m.Checksum(), Generations: 1}
		return m, nil
	}
	caCert, caKey := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if _, err := os.Stat(caCert); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create tls dir: %w", err)
		}
		if err := generate(caCert, caKey, cert, key, hosts, now); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(cert); errors.Is(err, os.ErrNotExist) {
		// A CA with no serving certificate: one the server replicas share
		// (InstallCA), installed in a new data directory.
		if _, err := reissue(dir, &x509.Certificate{}, hosts, now); err != nil {
			return nil, fmt.Errorf("issue a serving certificate: %w", err)
		}
	}
	m, err := load(caCert, cert, key)
	if err != nil {
		return nil, err
	}
	m.Keeper = &Keeper{dir: dir, hosts: hosts, own: true, cert: &m.Certificate}
	if m.Renewed, err = m.Keeper.Renew(now); err != nil {
		return nil, fmt.Errorf("issue the serving certificate anew: %w", err)
	}
	m.Certificate = *m.Keeper.Current()
	if err := m.loadRotation(dir); err != nil {
		return nil, err
	}
	return m, nil
}

// loadRotation reads the next CA and the lineage of dir into m.
func (m *Material) loadRotation(dir string) error {
	var err error
	if m.Rotation, err = RotationOf(dir); err != nil {
		return fmt.Errorf("the CA rotation: %w", err)
	}
	m.TrustPEM = m.CAPEM
	if m.Rotation.Next != "" {
		next, err := os.ReadFile(filepath.Join(dir, NextCertFile))
		if err != nil {
			return fmt.Errorf("the next CA: %w", err)
		}
		m.TrustPEM = bytes.Clone(m.CAPEM)
		if !bytes.HasSuffix(m.TrustPEM, []byte("\n")) {
			m.TrustPEM = append(m.TrustPEM, '\n')
		}
		m.TrustPEM = append(m.TrustPEM, next...)
	}
	m.LineagePEM, err = os.ReadFile(filepath.Join(dir, LineageFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the CA lineage: %w", err)
	}
	return nil
}

func load(caFile, certFile, keyFile string) (*Material, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	if b, _ := pem.Decode(caPEM); b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load serving certificate: %w", err)
	}
	return &Material{CAPEM: caPEM, Certificate: pair}, nil
}

// Generated is a freshly made CA and serving certificate, PEM-encoded.
type Generated struct {
	CACert, CAKey, Cert, Key []byte
}

// Generate makes a CA (10 years) and a serving certificate (2 years) for
// hosts (DNS names or IPs), ECDSA P-256, keys in "EC PRIVATE KEY" blocks.
func Generate(hosts []string, now time.Time) (Generated, error) {
	ca, err := NewCA(CAOptions{CommonName: "drover-ca", Organization: []string{"Drover"},
		Now: now, NotAfter: now.AddDate(10, 0, 0)})
	if err != nil {
		return Generated{}, err
	}
	leaf, err := ca.Issue(CertOptions{CommonName: "drover-server", Usage: ServerAuth, Hosts: hosts,
		Now: now, NotAfter: now.AddDate(2, 0, 0)})
	if err != nil {
		return Generated{}, err
	}
	caKey, err := ECKeyPEM(ca.Key)
	if err != nil {
		return Generated{}, err
	}
	key, err := ECKeyPEM(leaf.Key)
	if err != nil {
		return Generated{}, err
	}
	return Generated{CACert: CertPEM(ca.Cert), CAKey: caKey, Cert: CertPEM(leaf.Cert), Key: key}, nil
}

func generate(caCertFile, caKeyFile, certFile, keyFile string, hosts []string, now time.Time) error {
	g, err := Generate(hosts, now)
	if err != nil {
		return err
	}
	// Keys first, certificates last: a crash in between leaves no CA file, so
	// the next start regenerates everything instead of loading half.
	for _, f := range []struct {
		path string
		b    []byte
		mode os.FileMode
	}{
		{caKeyFile, g.CAKey, 0o600},
		{keyFile, g.Key, 0o600},
		// Public, but the server's alone to read, like every file of its
		// data directory.
		{certFile, g.Cert, 0o600},
		{caCertFile, g.CACert, 0o600},
	} {
		if err := writeAtomic(f.path, f.b, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// ReadCA returns the PEM of the CA certificate and key in dir; os.ErrNotExist
// when there is none.
func ReadCA(dir string) (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(filepath.Join(dir, "ca.crt")); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = os.ReadFile(filepath.Join(dir, "ca.key")); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// InstallCA writes a CA certificate and key into dir (made if missing),
// which must hold no CA: LoadOrCreate then issues the serving certificate
// from it. The pair must parse and match.
func InstallCA(dir string, certPEM, keyPEM []byte) error {
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err == nil {
		return errors.New("install CA: the directory holds a CA already")
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return fmt.Errorf("install CA: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create tls dir: %w", err)
	}
	// The key first: a crash in between leaves no CA, and the next start
	// installs it again.
	if err := writeAtomic(filepath.Join(dir, "ca.key"), keyPEM, 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, "ca.crt"), certPEM, 0o600)
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
