package pki

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// RenewBefore is how long before its expiry the generated serving
// certificate is issued anew (it lives two years).
const RenewBefore = 90 * 24 * time.Hour

// Keeper holds the server's serving certificate and issues it anew from
// the same CA when it no longer names every host the server is reached by
// or comes within RenewBefore of its expiry: at start (LoadOrCreate) and
// while the server runs (Renew). The CA does not change, so agents (which
// pin its checksum), kubeconfigs and the drover command (which embed it)
// accept the new certificate without a restart or a word. A certificate the
// user supplied is served as it is.
type Keeper struct {
	dir   string
	hosts []string
	own   bool // generated here: ours to issue anew

	mu   sync.Mutex
	cert *tls.Certificate
}

// GetCertificate serves the current certificate (tls.Config).
func (k *Keeper) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cert, nil
}

// Current returns the certificate served now.
func (k *Keeper) Current() *tls.Certificate {
	c, _ := k.GetCertificate(nil)
	return c
}

// Renew issues the serving certificate anew when it is due (see Keeper)
// and says why it did ("" when it did not).
func (k *Keeper) Renew(now time.Time) (string, error) {
	if !k.own {
		return "", nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	leaf, err := x509.ParseCertificate(k.cert.Certificate[0])
	if err != nil {
		return "", err
	}
	why := renewReason(leaf, k.hosts, now)
	if why == "" {
		// The CA was rotated (FinishRotation): issue from the new one.
		ca, err := loadCA(filepath.Join(k.dir, "ca.crt"), filepath.Join(k.dir, "ca.key"))
		if err != nil {
			return "", err
		}
		if leaf.CheckSignatureFrom(ca.Cert) != nil {
			why = "the CA was rotated"
		}
	}
	if why == "" {
		return "", nil
	}
	cert, err := reissue(k.dir, leaf, k.hosts, now)
	if err != nil {
		return "", err
	}
	k.cert = cert
	return why, nil
}

// renewReason says why leaf must be issued anew for hosts at now, or "".
func renewReason(leaf *x509.Certificate, hosts []string, now time.Time) string {
	var missing []string
	for _, h := range hosts {
		if !names(leaf, h) {
			missing = append(missing, h)
		}
	}
	switch {
	case len(missing) > 0:
		return "it does not name " + strings.Join(missing, ", ")
	case leaf.NotAfter.Sub(now) < RenewBefore:
		return fmt.Sprintf("it expires %s", leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	return ""
}

// names says whether leaf carries h as a SAN.
func names(leaf *x509.Certificate, h string) bool {
	if ip := net.ParseIP(h); ip != nil {
		return slices.ContainsFunc(leaf.IPAddresses, ip.Equal)
	}
	return slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return strings.EqualFold(n, h) })
}

// reissue makes a new serving certificate from the CA in dir for every
// name the old one had and every host, writes it (key first), and returns
// it.
func reissue(dir string, old *x509.Certificate, hosts []string, now time.Time) (*tls.Certificate, error) {
	ca, err := loadCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, err
	}
	all := slices.Clone(old.DNSNames)
	for _, ip := range old.IPAddresses {
		all = append(all, ip.String())
	}
	for _, h := range hosts {
		if !names(old, h) {
			all = append(all, h)
		}
	}
	leaf, err := ca.Issue(CertOptions{CommonName: "drover-server", Usage: ServerAuth, Hosts: all,
		Now: now, NotAfter: now.AddDate(2, 0, 0)})
	if err != nil {
		return nil, err
	}
	key, err := ECKeyPEM(leaf.Key)
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	// The key and the certificate are written one after the other: a crash
	// in between leaves a pair that does not match, which the next start
	// reports; the CA (which agents pin) is untouched either way.
	if err := writeAtomic(keyFile, key, 0o600); err != nil {
		return nil, err
	}
	if err := writeAtomic(certFile, CertPEM(leaf.Cert), 0o600); err != nil {
		return nil, err
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load the new serving certificate: %w", err)
	}
	return &pair, nil
}

// loadCA reads the CA certificate and its key.
func loadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("the CA key, to issue the serving certificate anew: %w", err)
	}
	// A key that is not the certificate's: a CA rotation that stopped
	// half-way (FinishRotation completes it).
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("the CA key does not match the CA certificate (if a CA rotation was being finished, run rotate-ca finish again): %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("the CA certificate or key is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	var key *ecdsa.PrivateKey
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	default:
		var k any
		if k, err = x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
			var ok bool
			if key, ok = k.(*ecdsa.PrivateKey); !ok {
				err = errors.New("the CA key is not ECDSA")
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("the CA key: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}
