package checksum

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Len is the length of a checksum: two hex characters per byte of SHA-256.
const Len = 2 * sha256.Size

// ErrMalformed is the error of Parse, wrapped with what is wrong. Its
// message reads after the name of the field: "--ca-checksum must be ...".
var ErrMalformed = errors.New("must be 64 hex characters (a SHA-256)")

// Parse accepts a checksum given by a user: 64 hex characters in either
// case, surrounding white space ignored. It returns the checksum in lower
// case, the form to store, print and compare.
func Parse(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) != Len {
		return "", fmt.Errorf("%w, not %d", ErrMalformed, len(s))
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + ('a' - 'A')
		default:
			return "", fmt.Errorf("%w: character %d is not a hex digit", ErrMalformed, i+1)
		}
	}
	return string(b), nil
}

// Equal reports whether a and b are well-formed checksums of the same
// digest, in whatever case either is written.
func Equal(a, b string) bool {
	na, err := Parse(a)
	if err != nil {
		return false
	}
	nb, err := Parse(b)
	return err == nil && na == nb
}

// Of returns the checksum of data.
func Of(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Hasher computes the checksum of what is written to it, for data that is
// streamed (a download, a file).
type Hasher struct{ h hash.Hash }

// NewHasher returns an empty Hasher.
func NewHasher() *Hasher { return &Hasher{h: sha256.New()} }

// Write adds p; it never fails.
func (w *Hasher) Write(p []byte) (int, error) { return w.h.Write(p) }

// Sum returns the checksum of everything written so far.
func (w *Hasher) Sum() string { return hex.EncodeToString(w.h.Sum(nil)) }
