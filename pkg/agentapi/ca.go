package agentapi

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
)

// CertPool parses a PEM bundle that must hold at least one certificate.
func CertPool(pemData []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, errors.New("CA bundle holds an unparsable certificate")
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("CA bundle holds no certificate")
	}
	return pool, nil
}
