package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"
)

// backdate is how long before Now a certificate becomes valid, so that a
// peer whose clock is a little behind accepts it at once.
const backdate = time.Hour

// CA is a certificate authority: its self-signed certificate and the key
// that signs what Issue makes. Keys are ECDSA P-256.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// CAOptions configure NewCA.
type CAOptions struct {
	// CommonName names the CA; required.
	CommonName   string
	Organization []string
	// Now is the time of issue: the certificate is valid from an hour
	// before it until NotAfter, which must be later.
	Now, NotAfter time.Time
}

// NewCA makes a CA that signs leaf certificates only (path length 0).
func NewCA(opts CAOptions) (*CA, error) {
	tmpl, key, err := newTemplate("CA", opts.CommonName, opts.Organization, opts.Now, opts.NotAfter)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = true
	tmpl.MaxPathLenZero = true
	cert, err := sign(tmpl, tmpl, key, key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Usage is what an issued certificate is for; combine with |.
type Usage uint8

const (
	// ServerAuth: a TLS server's certificate.
	ServerAuth Usage = 1 << iota
	// ClientAuth: a TLS client's certificate.
	ClientAuth
)

// CertOptions configure CA.Issue.
type CertOptions struct {
	// CommonName is the subject's name; required.
	CommonName   string
	Organization []string
	// Usage is required.
	Usage Usage
	// Hosts are the subject alternative names: each an IP address or a
	// DNS name.
	Hosts []string
	// Now is the time of issue: the certificate is valid from an hour
	// before it until NotAfter, which must be later.
	Now, NotAfter time.Time
}

// Cert is an issued certificate and its key (ECDSA P-256).
type Cert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Issue makes a key and a certificate for it signed by ca.
func (ca *CA) Issue(opts CertOptions) (*Cert, error) {
	var ext []x509.ExtKeyUsage
	if opts.Usage&ServerAuth != 0 {
		ext = append(ext, x509.ExtKeyUsageServerAuth)
	}
	if opts.Usage&ClientAuth != 0 {
		ext = append(ext, x509.ExtKeyUsageClientAuth)
	}
	if len(ext) == 0 || opts.Usage&^(ServerAuth|ClientAuth) != 0 {
		return nil, fmt.Errorf("pki: certificate %q: usage %d is not ServerAuth, ClientAuth or both", opts.CommonName, opts.Usage)
	}
	tmpl, key, err := newTemplate("certificate", opts.CommonName, opts.Organization, opts.Now, opts.NotAfter)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = ext
	for _, h := range opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	cert, err := sign(tmpl, ca.Cert, key, ca.Key)
	if err != nil {
		return nil, err
	}
	return &Cert{Cert: cert, Key: key}, nil
}

// newTemplate checks what every certificate needs and returns a fresh key
// and a template with the subject, a serial number and the validity.
func newTemplate(what, cn string, org []string, now, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if cn == "" {
		return nil, nil, fmt.Errorf("pki: %s needs a common name", what)
	}
	if !notAfter.After(now) {
		return nil, nil, fmt.Errorf("pki: %s %q: NotAfter %v is not after Now %v", what, cn, notAfter, now)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate key for %q: %w", cn, err)
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	return &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn, Organization: org},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
	}, key, nil
}

// sign signs tmpl for key with the parent's signer and parses the result.
func sign(tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("pki: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, nil
}

// KeyPair is a PEM-encoded signing key pair.
type KeyPair struct {
	// Private is an "EC PRIVATE KEY" block; Public a "PUBLIC KEY" (PKIX) one.
	Private, Public []byte
}

// NewServiceAccountKeyPair makes the ECDSA P-256 key pair a kube-apiserver
// signs service-account tokens with (--service-account-signing-key-file)
// and verifies them by (--service-account-key-file).
func NewServiceAccountKeyPair() (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("pki: generate service-account key: %w", err)
	}
	priv, err := ECKeyPEM(key)
	if err != nil {
		return KeyPair{}, err
	}
	pub, err := PublicKeyPEM(&key.PublicKey)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{Private: priv, Public: pub}, nil
}

// serial is a random positive 127-bit serial number.
func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
