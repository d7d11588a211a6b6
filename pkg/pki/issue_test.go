package pki

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var issueNow = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

func testCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA(CAOptions{CommonName: "test-ca", Organization: []string{"Drover"}, Now: issueNow, NotAfter: issueNow.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	ca := testCA(t)
	type view struct {
		CN, Org              string
		NotBefore, NotAfter  time.Time
		IsCA, MaxPathLenZero bool
		KeyUsage             x509.KeyUsage
	}
	want := view{CN: "test-ca", Org: "Drover", NotBefore: issueNow.Add(-time.Hour), NotAfter: issueNow.AddDate(1, 0, 0),
		IsCA: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	c := ca.Cert
	got := view{CN: c.Subject.CommonName, Org: c.Subject.Organization[0], NotBefore: c.NotBefore, NotAfter: c.NotAfter,
		IsCA: c.IsCA, MaxPathLenZero: c.MaxPathLenZero && c.MaxPathLen == 0, KeyUsage: c.KeyUsage}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CA (-want +got):\n%s", diff)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}

	for _, tc := range []struct {
		name string
		opts CAOptions
	}{
		{"no common name", CAOptions{Now: issueNow, NotAfter: issueNow.Add(time.Hour)}},
		{"NotAfter before Now", CAOptions{CommonName: "x", Now: issueNow, NotAfter: issueNow.Add(-time.Second)}},
		{"no NotAfter", CAOptions{CommonName: "x", Now: issueNow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewCA(tc.opts); err == nil {
				t.Error("NewCA accepted it")
			}
		})
	}
}

func TestIssue(t *testing.T) {
	ca := testCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	notAfter := issueNow.Add(48 * time.Hour)

	for _, tc := range []struct {
		name      string
		opts      CertOptions
		wantDNS   []string
		wantIPs   []string
		wantUsage []x509.ExtKeyUsage
	}{
		{
			name:    "server with DNS and IP SANs",
			opts:    CertOptions{CommonName: "srv", Usage: ServerAuth, Hosts: []string{"localhost", "127.0.0.1", "drover.example", "::1"}},
			wantDNS: []string{"localhost", "drover.example"}, wantIPs: []string{"127.0.0.1", "::1"},
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		{
			name:      "client without SANs",
			opts:      CertOptions{CommonName: "alice", Organization: []string{"system:masters"}, Usage: ClientAuth},
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		{
			name:      "server and client",
			opts:      CertOptions{CommonName: "peer", Usage: ServerAuth | ClientAuth, Hosts: []string{"peer.example"}},
			wantDNS:   []string{"peer.example"},
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now, tc.opts.NotAfter = issueNow, notAfter
			c, err := ca.Issue(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var ips []string
			for _, ip := range c.Cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if diff := cmp.Diff(tc.wantDNS, c.Cert.DNSNames); diff != "" {
				t.Errorf("DNS SANs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantIPs, ips); diff != "" {
				t.Errorf("IP SANs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUsage, c.Cert.ExtKeyUsage); diff != "" {
				t.Errorf("extended key usage (-want +got):\n%s", diff)
			}
			if c.Cert.IsCA || c.Cert.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("leaf IsCA %v, key usage %v", c.Cert.IsCA, c.Cert.KeyUsage)
			}
			if !c.Cert.NotBefore.Equal(issueNow.Add(-time.Hour)) || !c.Cert.NotAfter.Equal(notAfter) {
				t.Errorf("validity %v to %v", c.Cert.NotBefore, c.Cert.NotAfter)
			}
			if diff := cmp.Diff(tc.opts.Organization, c.Cert.Subject.Organization); c.Cert.Subject.CommonName != tc.opts.CommonName || diff != "" {
				t.Errorf("subject %v", c.Cert.Subject)
			}
			if pub, ok := c.Cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&c.Key.PublicKey) {
				t.Error("certificate is not for the returned key")
			}
			// It chains to the CA for what it was asked for, and for
			// nothing else.
			at := issueNow.Add(time.Minute)
			for _, u := range tc.wantUsage {
				if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
					t.Errorf("does not verify for usage %v: %v", u, err)
				}
			}
			for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				asked := false
				for _, w := range tc.wantUsage {
					asked = asked || w == u
				}
				_, err := c.Cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{u}})
				if !asked && err == nil {
					t.Errorf("verifies for usage %v it was not issued for", u)
				}
			}
			for _, h := range append(append([]string{}, tc.wantDNS...), tc.wantIPs...) {
				if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: at, DNSName: h, KeyUsages: tc.wantUsage}); err != nil {
					t.Errorf("does not verify for %s: %v", h, err)
				}
			}
			if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: at, DNSName: "evil.example", KeyUsages: tc.wantUsage}); err == nil {
				t.Error("verifies for a name it was not issued for")
			}
			if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: notAfter.Add(time.Second), KeyUsages: tc.wantUsage}); err == nil {
				t.Error("verifies after NotAfter")
			}
		})
	}
}

func TestIssueRefuses(t *testing.T) {
	ca := testCA(t)
	for _, tc := range []struct {
		name string
		opts CertOptions
	}{
		{"no usage", CertOptions{CommonName: "x", Now: issueNow, NotAfter: issueNow.Add(time.Hour)}},
		{"unknown usage", CertOptions{CommonName: "x", Usage: ServerAuth | 1<<7, Now: issueNow, NotAfter: issueNow.Add(time.Hour)}},
		{"no common name", CertOptions{Usage: ServerAuth, Now: issueNow, NotAfter: issueNow.Add(time.Hour)}},
		{"NotAfter not after Now", CertOptions{CommonName: "x", Usage: ServerAuth, Now: issueNow, NotAfter: issueNow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ca.Issue(tc.opts); err == nil {
				t.Error("Issue accepted it")
			}
		})
	}
}

// A leaf the CA issued is not a CA: a certificate it signs does not chain.
func TestCASignsLeavesOnly(t *testing.T) {
	ca := testCA(t)
	leaf, err := ca.Issue(CertOptions{CommonName: "srv", Usage: ServerAuth, Hosts: []string{"srv.example"}, Now: issueNow, NotAfter: issueNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	fakeInter := &CA{Cert: leaf.Cert, Key: leaf.Key}
	grandchild, err := fakeInter.Issue(CertOptions{CommonName: "evil", Usage: ServerAuth, Hosts: []string{"evil.example"}, Now: issueNow, NotAfter: issueNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca.Cert)
	inter.AddCert(leaf.Cert)
	if _, err := grandchild.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: issueNow, DNSName: "evil.example"}); err == nil {
		t.Error("a leaf's certificate verified as an intermediate")
	}
}

func TestPEM(t *testing.T) {
	ca := testCA(t)
	leaf, err := ca.Issue(CertOptions{CommonName: "srv", Usage: ServerAuth, Hosts: []string{"127.0.0.1"}, Now: issueNow, NotAfter: issueNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	blocks := func(b []byte) []string {
		var types []string
		for {
			var blk *pem.Block
			if blk, b = pem.Decode(b); blk == nil {
				return types
			}
			types = append(types, blk.Type)
		}
	}

	chain := CertPEM(leaf.Cert, ca.Cert)
	if diff := cmp.Diff([]string{"CERTIFICATE", "CERTIFICATE"}, blocks(chain)); diff != "" {
		t.Errorf("chain blocks (-want +got):\n%s", diff)
	}
	first, _ := pem.Decode(chain)
	if diff := cmp.Diff(leaf.Cert.Raw, first.Bytes); diff != "" {
		t.Error("chain does not start with the leaf")
	}

	ec, err := ECKeyPEM(leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(ec)
	if k, err := x509.ParseECPrivateKey(blk.Bytes); blk.Type != "EC PRIVATE KEY" || err != nil || !k.Equal(leaf.Key) {
		t.Errorf("EC key PEM: type %q, %v", blk.Type, err)
	}
	p8, err := PKCS8KeyPEM(leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ = pem.Decode(p8)
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); blk.Type != "PRIVATE KEY" || err != nil || !leaf.Key.Equal(k) {
		t.Errorf("PKCS #8 key PEM: type %q, %v", blk.Type, err)
	}
	// The chain and the EC key load as a serving pair.
	if _, err := tls.X509KeyPair(chain, ec); err != nil {
		t.Errorf("serving pair: %v", err)
	}

	sa, err := NewServiceAccountKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	privBlk, _ := pem.Decode(sa.Private)
	pubBlk, _ := pem.Decode(sa.Public)
	if privBlk == nil || pubBlk == nil || privBlk.Type != "EC PRIVATE KEY" || pubBlk.Type != "PUBLIC KEY" {
		t.Fatalf("service-account key pair blocks: %v, %v", privBlk, pubBlk)
	}
	priv, err := x509.ParseECPrivateKey(privBlk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(pubBlk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.PublicKey.Equal(pub) {
		t.Error("service-account public key is not the private key's")
	}
}
