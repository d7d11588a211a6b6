package pki

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/checksum"
)

// Files of a CA rotation in the tls directory, beside ca.crt and ca.key.
const (
	// NextCertFile and NextKeyFile are the CA that PrepareRotation made and
	// FinishRotation puts in the place of the current one.
	NextCertFile = "ca-next.crt"
	NextKeyFile  = "ca-next.key"
	// LineageFile is the CA lineage (Lineage).
	LineageFile = "ca-lineage.pem"
)

// A CA rotation happens in two steps, because a client that trusts only
// the old CA cannot be made to accept a certificate of the new one: the
// CAs are made with path length 0, so a chain through the new CA
// cross-signed by the old one (leaf → cross-signed CA → old CA) is refused
// by every verifier (Go's says "too many intermediates"), and kubectl
// trusts exactly the certificates of its kubeconfig.
//
//   - PrepareRotation makes the next CA and records it in the lineage,
//     signed by the current one. The serving certificate stays the current
//     CA's, so every client keeps working; what the server hands out now
//     trusts both CAs (Material.TrustPEM: kubeconfigs, the drover
//     command's pin), and clients that pin the current CA learn the next
//     one from the lineage (package capin).
//   - FinishRotation makes the next CA the current one; the serving
//     certificate is issued anew from it at the next start (Keeper). Who
//     trusts the new CA (both, or by the lineage) goes on; a kubeconfig that
//     embeds only the old CA is refused and must be downloaded again.
//
// The lineage (ca-lineage.pem) is public: a run of CERTIFICATE blocks
// C0, X1, C1, X2, C2, ... where each Ci is a CA certificate (self-signed)
// and each Xi is Ci's subject and key signed by C(i-1): the proof, by the
// CA a client trusts, of the one that follows it. Its last CA is the
// current one, or the next one while a rotation is prepared.

// Rotation is the state of a tls directory's CA rotation.
type Rotation struct {
	// Current is the checksum of the CA that issues the serving certificate.
	Current string
	// Next is the checksum of the prepared CA; "" when no rotation is
	// prepared.
	Next string
	// Generations is how many CAs the lineage records (1 when the CA was
	// never rotated).
	Generations int
}

// RotationOf reads the rotation state of dir.
func RotationOf(dir string) (Rotation, error) {
	cur, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return Rotation{}, fmt.Errorf("read the CA: %w", err)
	}
	r := Rotation{Current: checksum.Of(cur), Generations: 1}
	next, err := os.ReadFile(filepath.Join(dir, NextCertFile))
	switch {
	case err == nil:
		r.Next = checksum.Of(next)
	case !errors.Is(err, os.ErrNotExist):
		return Rotation{}, err
	}
	lin, err := readLineage(dir)
	if err != nil {
		return Rotation{}, err
	}
	if n := len(lin.CAs); n > 0 {
		r.Generations = n
		if r.Next != "" {
			r.Generations--
		}
	}
	return r, nil
}

// PrepareRotation makes the next CA (10 years, like the first) in dir and
// records it in the lineage, signed by the current CA. It refuses when a
// rotation is prepared already.
func PrepareRotation(dir string, now time.Time) error {
	if _, err := os.Stat(filepath.Join(dir, NextCertFile)); err == nil {
		return errors.New("a CA rotation is prepared already: finish it (or abort it) first")
	}
	cur, err := loadCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		return fmt.Errorf("the current CA: %w", err)
	}
	next, err := NewCA(CAOptions{CommonName: "drover-ca", Organization: []string{"Drover"},
		Now: now, NotAfter: now.AddDate(10, 0, 0)})
	if err != nil {
		return err
	}
	cross, err := CrossSign(cur, next.Cert)
	if err != nil {
		return err
	}
	lin, err := readLineage(dir)
	if err != nil {
		return err
	}
	if len(lin.CAs) == 0 {
		lin.CAs = []*x509.Certificate{cur.Cert}
	}
	if !lin.CAs[len(lin.CAs)-1].Equal(cur.Cert) {
		return fmt.Errorf("%s does not end with the current CA: the directory was edited by hand", LineageFile)
	}
	lin.CAs = append(lin.CAs, next.Cert)
	lin.Cross = append(lin.Cross, cross)
	key, err := ECKeyPEM(next.Key)
	if err != nil {
		return err
	}
	// The lineage last: it names the next CA only once its files exist.
	if err := writeAtomic(filepath.Join(dir, NextKeyFile), key, 0o600); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, NextCertFile), CertPEM(next.Cert), 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, LineageFile), lin.PEM(), 0o600)
}

// FinishRotation makes the prepared CA the current one: it replaces
// ca.crt and ca.key and removes the next CA's files. The serving
// certificate is issued anew from the new CA the next time the directory
// is loaded (LoadOrCreate). Run again after a crash, it completes.
func FinishRotation(dir string) error {
	certPEM, err := os.ReadFile(filepath.Join(dir, NextCertFile))
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no CA rotation is prepared")
	}
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, NextKeyFile))
	if err != nil {
		return fmt.Errorf("the next CA's key: %w", err)
	}
	if _, err := loadCA(filepath.Join(dir, NextCertFile), filepath.Join(dir, NextKeyFile)); err != nil {
		return fmt.Errorf("the next CA: %w", err)
	}
	// The next CA's files go last: until then, finishing again repeats
	// every step, and a start in between is refused (the CA's key does not
	// match its certificate) rather than serving half a rotation.
	if err := writeAtomic(filepath.Join(dir, "ca.key"), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "ca.crt"), certPEM, 0o600); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, NextKeyFile)); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, NextCertFile))
}

// AbortRotation forgets a prepared rotation: the next CA and its entry in
// the lineage go. Clients that learnt the next CA trust it still (harmless:
// its key is gone).
func AbortRotation(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, NextCertFile)); errors.Is(err, os.ErrNotExist) {
		return errors.New("no CA rotation is prepared")
	}
	lin, err := readLineage(dir)
	if err != nil {
		return err
	}
	if n := len(lin.CAs); n >= 2 {
		lin.CAs, lin.Cross = lin.CAs[:n-1], lin.Cross[:n-2]
		if len(lin.Cross) == 0 {
			lin = agentapi.Lineage{}
		}
	}
	if len(lin.CAs) == 0 {
		if err := os.Remove(filepath.Join(dir, LineageFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	} else if err := writeAtomic(filepath.Join(dir, LineageFile), lin.PEM(), 0o600); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, NextCertFile)); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, NextKeyFile))
}

// CrossSign returns a certificate of next's subject and key, issued by
// signer: the proof, by signer, that next follows it. It is never served
// in a TLS chain (see PrepareRotation), only checked by agentapi.Lineage.Follow.
func CrossSign(signer *CA, next *x509.Certificate) (*x509.Certificate, error) {
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               next.Subject,
		NotBefore:             next.NotBefore,
		NotAfter:              next.NotAfter,
		KeyUsage:              next.KeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer.Cert, next.PublicKey, signer.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: cross-sign %q: %w", next.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// readLineage reads dir's lineage; empty when there is none.
func readLineage(dir string) (agentapi.Lineage, error) {
	b, err := os.ReadFile(filepath.Join(dir, LineageFile))
	if errors.Is(err, os.ErrNotExist) {
		return agentapi.Lineage{}, nil
	}
	if err != nil {
		return agentapi.Lineage{}, err
	}
	return agentapi.ParseLineage(b)
}
