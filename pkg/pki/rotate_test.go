package pki

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/checksum"
)

func newTestCA(t *testing.T, now time.Time) *CA {
	t.Helper()
	ca, err := NewCA(CAOptions{CommonName: "drover-ca", Organization: []string{"Drover"}, Now: now, NotAfter: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestCrossSignedChainRefused shows why a rotation trusts both CAs before
// it switches rather than serving the new CA cross-signed by the old one:
// the CAs have path length 0, so a client that trusts only the old CA
// refuses the chain leaf → cross-signed new CA → old CA.
func TestCrossSignedChainRefused(t *testing.T) {
	now := time.Now()
	old, next := newTestCA(t, now), newTestCA(t, now)
	cross, err := CrossSign(old, next.Cert)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := next.Issue(CertOptions{CommonName: "drover-server", Usage: ServerAuth, Hosts: []string{"drover.test"}, Now: now, NotAfter: now.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(root *x509.Certificate) error {
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(root)
		inter.AddCert(cross)
		_, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "drover.test"})
		return err
	}
	if err := verify(next.Cert); err != nil {
		t.Errorf("a client of the new CA: %v", err)
	}
	var invalid x509.CertificateInvalidError
	if err := verify(old.Cert); !errors.As(err, &invalid) || invalid.Reason != x509.TooManyIntermediates {
		t.Errorf("a client of the old CA: got %v, want too many intermediates", err)
	}
	// The cross certificate itself proves the new CA by the old one.
	if err := cross.CheckSignatureFrom(old.Cert); err != nil {
		t.Errorf("the cross certificate: %v", err)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	hosts := []string{"drover.test", "127.0.0.1"}
	first, err := LoadOrCreate(dir, hosts, Files{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := FinishRotation(dir); err == nil {
		t.Error("FinishRotation without a prepared rotation succeeded")
	}
	if err := PrepareRotation(dir, now); err != nil {
		t.Fatal(err)
	}
	if err := PrepareRotation(dir, now); err == nil {
		t.Error("a second PrepareRotation succeeded")
	}
	prepared, err := LoadOrCreate(dir, hosts, Files{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if prepared.Renewed != "" || prepared.Checksum() != first.Checksum() {
		t.Errorf("prepare changed what is served: renewed %q, checksum %s", prepared.Renewed, prepared.Checksum())
	}
	trust := certs(t, prepared.TrustPEM)
	if len(trust) != 2 || checksum.Of(CertPEM(trust[1])) != prepared.Rotation.Next {
		t.Fatalf("the trust bundle while prepared holds %d CAs", len(trust))
	}
	next := trust[1]
	if diff := cmp.Diff(Rotation{Current: first.Checksum(), Next: prepared.Rotation.Next, Generations: 1}, prepared.Rotation); diff != "" {
		t.Errorf("the rotation while prepared (-want +got):\n%s", diff)
	}

	if err := FinishRotation(dir); err != nil {
		t.Fatal(err)
	}
	done, err := LoadOrCreate(dir, hosts, Files{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if done.Renewed != "the CA was rotated" {
		t.Errorf("renewed %q", done.Renewed)
	}
	if done.Checksum() != prepared.Rotation.Next || string(done.TrustPEM) != string(done.CAPEM) {
		t.Errorf("after the rotation the CA is %s, want %s; trust %d certs", done.Checksum(), prepared.Rotation.Next, len(certs(t, done.TrustPEM)))
	}
	if done.Instance() != first.Checksum() || first.Instance() != first.Checksum() {
		t.Errorf("the instance changed: %s, was %s", done.Instance(), first.Instance())
	}
	leaf, err := x509.ParseCertificate(done.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.CheckSignatureFrom(next); err != nil {
		t.Errorf("the serving certificate is not the new CA's: %v", err)
	}
	if diff := cmp.Diff(hosts, append(leaf.DNSNames, leaf.IPAddresses[0].String())); diff != "" {
		t.Errorf("the names of the new serving certificate (-want +got):\n%s", diff)
	}
	lin, err := agentapi.ParseLineage(done.LineagePEM)
	if err != nil {
		t.Fatal(err)
	}
	if got := lin.FollowChecksum(first.Checksum()); len(got) != 2 || !got[1].Equal(next) {
		t.Errorf("the lineage from the first CA vouches for %d CAs", len(got))
	}

	// A second rotation, aborted.
	if err := PrepareRotation(dir, now); err != nil {
		t.Fatal(err)
	}
	if err := AbortRotation(dir); err != nil {
		t.Fatal(err)
	}
	r, err := RotationOf(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Rotation{Current: done.Checksum(), Generations: 2}, r); diff != "" {
		t.Errorf("after the abort (-want +got):\n%s", diff)
	}
}

func TestLineageFollow(t *testing.T) {
	now := time.Now()
	a, b, c, evil := newTestCA(t, now), newTestCA(t, now), newTestCA(t, now), newTestCA(t, now)
	cross := func(signer, next *CA) *x509.Certificate {
		x, err := CrossSign(signer, next.Cert)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	good := agentapi.Lineage{CAs: []*x509.Certificate{a.Cert, b.Cert, c.Cert}, Cross: []*x509.Certificate{cross(a, b), cross(b, c)}}
	forged := agentapi.Lineage{CAs: []*x509.Certificate{a.Cert, evil.Cert}, Cross: []*x509.Certificate{cross(evil, evil)}}
	swapped := agentapi.Lineage{CAs: []*x509.Certificate{a.Cert, evil.Cert}, Cross: []*x509.Certificate{cross(a, b)}}
	for _, tc := range []struct {
		name    string
		l       agentapi.Lineage
		trusted []*x509.Certificate
		want    []*x509.Certificate
	}{
		{"from the first", good, []*x509.Certificate{a.Cert}, []*x509.Certificate{a.Cert, b.Cert, c.Cert}},
		{"from the middle", good, []*x509.Certificate{b.Cert}, []*x509.Certificate{b.Cert, c.Cert}},
		{"from the last of several trusted", good, []*x509.Certificate{a.Cert, c.Cert}, []*x509.Certificate{c.Cert}},
		{"none trusted", good, []*x509.Certificate{evil.Cert}, nil},
		{"signed by another", forged, []*x509.Certificate{a.Cert}, []*x509.Certificate{a.Cert}},
		{"another key", swapped, []*x509.Certificate{a.Cert}, []*x509.Certificate{a.Cert}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.l.Follow(tc.trusted)
			if diff := cmp.Diff(sums(tc.want), sums(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			parsed, err := agentapi.ParseLineage(tc.l.PEM())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sums(tc.want), sums(parsed.FollowChecksum(checksum.Of(CertPEM(tc.trusted[len(tc.trusted)-1]))))); diff != "" && len(tc.trusted) == 1 {
				t.Errorf("by checksum (-want +got):\n%s", diff)
			}
		})
	}
}

// sums are the checksums of certs, for comparison.
func sums(certs []*x509.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, checksum.Of(c.Raw))
	}
	return out
}

func certs(t *testing.T, pemData []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for rest := pemData; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}
