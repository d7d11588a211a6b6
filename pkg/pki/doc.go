// Package pki owns the server's TLS material: a CA and a serving certificate
// generated on first start and persisted in the data directory (or supplied
// by the user), and the CA checksum that agents pin.
//
// Private keys are written with mode 0600. This package must never log a key
// or weaken verification (no InsecureSkipVerify) for anyone.
package pki
