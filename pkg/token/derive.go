package token

import (
	"crypto/hmac"
	"crypto/sha256"
)

// Derive returns the token with the given id whose secret is derived from
// parent's secret: HMAC-SHA256 keyed with the parent's secret over purpose
// and id, encoded as every secret is. The same parent, purpose and id give
// the same token; without the parent's secret it cannot be computed, and
// it tells nothing of the parent's secret. Registration uses it for the
// node token of a generation, so that re-fetching an import manifest hands
// out the same node token without a plaintext or sealed copy of it being
// stored anywhere.
func Derive(parent Token, purpose, id string) Token {
	m := hmac.New(sha256.New, []byte(parent.Secret))
	m.Write([]byte("drover derived token\x00"))
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return Token{ID: id, Secret: encoding.EncodeToString(m.Sum(nil))}
}
