package agentapi

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/drover-dev/drover/pkg/checksum"
)

// CALineagePath is where the server serves its CA lineage (Lineage),
// unauthenticated: every link of it is checked by signature.
const CALineagePath = "/cacerts/lineage"

// Lineage is the succession of a service's CAs: CAs[i+1] is vouched for
// by CAs[i] through Cross[i] (package pki, PrepareRotation).
type Lineage struct {
	CAs   []*x509.Certificate
	Cross []*x509.Certificate
}

// PEM encodes l as C0, X1, C1, ...
func (l Lineage) PEM() []byte {
	var b bytes.Buffer
	for i, c := range l.CAs {
		if i > 0 {
			b.Write(certPEM(l.Cross[i-1]))
		}
		b.Write(certPEM(c))
	}
	return b.Bytes()
}

// ParseLineage decodes what Lineage.PEM encodes; empty input is an empty
// lineage.
func ParseLineage(data []byte) (Lineage, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return Lineage{}, fmt.Errorf("CA lineage: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return Lineage{}, nil
	}
	if len(certs)%2 == 0 {
		return Lineage{}, errors.New("CA lineage: an even number of certificates")
	}
	var l Lineage
	for i, c := range certs {
		if i%2 == 0 {
			l.CAs = append(l.CAs, c)
		} else {
			l.Cross = append(l.Cross, c)
		}
	}
	return l, nil
}

// Follow returns the CAs of l that trusted (CA certificates a client
// trusts) vouches for: those in l from the first one trusted holds on,
// each proven by the one before it (its cross certificate carries its
// subject and key and is signed by the previous CA). The trusted ones of
// l are included; nil when l holds none of them.
func (l Lineage) Follow(trusted []*x509.Certificate) []*x509.Certificate {
	start := -1
	for i, c := range l.CAs {
		for _, t := range trusted {
			if c.Equal(t) {
				start = i
			}
		}
	}
	return l.follow(start)
}

// FollowChecksum is Follow for a client that pins a CA by the checksum of
// its PEM (CertPEM).
func (l Lineage) FollowChecksum(sum string) []*x509.Certificate {
	start := -1
	for i, c := range l.CAs {
		if checksum.Equal(checksum.Of(certPEM(c)), sum) {
			start = i
		}
	}
	return l.follow(start)
}

func (l Lineage) follow(start int) []*x509.Certificate {
	if start < 0 || len(l.Cross) != len(l.CAs)-1 {
		return nil
	}
	out := []*x509.Certificate{l.CAs[start]}
	for i := start + 1; i < len(l.CAs); i++ {
		prev, cross, next := l.CAs[i-1], l.Cross[i-1], l.CAs[i]
		if cross.CheckSignatureFrom(prev) != nil || next.CheckSignatureFrom(next) != nil ||
			!bytes.Equal(cross.RawSubject, next.RawSubject) ||
			!bytes.Equal(cross.RawSubjectPublicKeyInfo, next.RawSubjectPublicKeyInfo) {
			break
		}
		out = append(out, next)
	}
	return out
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
