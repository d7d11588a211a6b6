// Package pki owns Drover's X.509 material and the one way it is made:
//
//   - NewCA and CA.Issue make ECDSA P-256 CAs (path length 0) and leaf
//     certificates for server or client use, with the SANs and validity the
//     caller asks for; CertPEM, ECKeyPEM, PKCS8KeyPEM and PublicKeyPEM
//     encode them; NewServiceAccountKeyPair makes a kube-apiserver's token
//     signing key pair. The local cluster driver and the test beds use these
//     rather than their own generators.
//   - LoadOrCreate is the server's CA and serving certificate, generated on
//     first start and persisted in the data directory (or supplied by the
//     user), and the CA checksum that agents pin.
//   - PrepareRotation, FinishRotation and AbortRotation rotate the
//     generated CA in two steps (trust both, then switch), recording each
//     new CA in the lineage, signed by the one before (rotate.go).
//
// Private keys are written with mode 0600. This package must never log a key
// or weaken verification (no InsecureSkipVerify) for anyone.
package pki
