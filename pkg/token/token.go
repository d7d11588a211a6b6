package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/drover-dev/drover/pkg/ids"
)

const (
	// secretBytes is the entropy of a secret: 256 bits.
	secretBytes = 32
	saltBytes   = 16
	// maxLen bounds what Parse accepts so hostile input costs nothing.
	maxLen = 256
)

// encoding is lower-case base32 without padding: safe in headers, URLs and
// file names, and unambiguous to read aloud.
var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ErrMalformed is returned by Parse for anything that is not a token.
var ErrMalformed = errors.New("malformed token")

// Token is a parsed token. String returns the full "<id>:<secret>" form.
type Token struct {
	ID     string
	Secret string
}

func (t Token) String() string { return t.ID + ":" + t.Secret }

// Hashed is what is stored at rest for a token.
type Hashed struct {
	Salt []byte
	Hash []byte
}

// New returns a fresh token whose id is of kind: ids.Token (user API,
// kubeconfig and opaque session tokens), ids.Registration, ids.Session or
// ids.Replica (a replica's peer credential).
func New(kind ids.Kind) (Token, error) {
	if !tokenKind(kind) {
		return Token{}, fmt.Errorf("new token: %v ids do not name tokens", kind)
	}
	id, err := kind.New()
	if err != nil {
		return Token{}, err
	}
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return Token{}, fmt.Errorf("read random secret: %w", err)
	}
	return Token{ID: id, Secret: encoding.EncodeToString(b)}, nil
}

// tokenKind reports whether ids of kind name tokens.
func tokenKind(kind ids.Kind) bool {
	return kind == ids.Token || kind == ids.Registration || kind == ids.Session || kind == ids.Replica
}

// validID reports whether id is the id of a token of any kind.
func validID(id string) bool {
	return ids.Token.Valid(id) || ids.Registration.Valid(id) || ids.Session.Valid(id) || ids.Replica.Valid(id)
}

// Parse splits "<id>:<secret>" and checks both parts' alphabets and lengths.
// It never returns the input in an error.
func Parse(s string) (Token, error) {
	if len(s) == 0 || len(s) > maxLen {
		return Token{}, ErrMalformed
	}
	id, secret, ok := strings.Cut(s, ":")
	if !ok || !validID(id) || len(secret) != encoding.EncodedLen(secretBytes) {
		return Token{}, ErrMalformed
	}
	if _, err := encoding.DecodeString(secret); err != nil {
		return Token{}, ErrMalformed
	}
	return Token{ID: id, Secret: secret}, nil
}

// RedactSecrets returns s with every run of SecretLen or more characters
// of the secrets' alphabet (either case) replaced by "<redacted>": a
// secret however it is embedded (any separator, any extension, any
// neighbour), at the price of hiding the odd long run of letters that is
// not one. Log lines and the audit log pass request paths through it
// (package request). It allocates only when it redacts.
func RedactSecrets(s string) string {
	n := encoding.EncodedLen(secretBytes)
	var b strings.Builder
	last, run := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && secretChar(s[i]) {
			run++
			continue
		}
		if run >= n {
			b.WriteString(s[last : i-run])
			b.WriteString("<redacted>")
			last = i
		}
		run = 0
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// secretChar reports whether c is in the secrets' base32 alphabet, in
// either case.
func secretChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '2' <= c && c <= '7'
}

// Hash salts and hashes the token's secret for storage.
func Hash(t Token) (Hashed, error) {
	salt := make([]byte, saltBytes)
	if _, err := rand.Read(salt); err != nil {
		return Hashed{}, fmt.Errorf("read random salt: %w", err)
	}
	return Hashed{Salt: salt, Hash: digest(salt, t.Secret)}, nil
}

// Verify reports whether the token's secret matches the stored hash, in
// constant time.
func Verify(t Token, h Hashed) bool {
	if len(h.Salt) == 0 || len(h.Hash) != sha256.Size {
		return false
	}
	return subtle.ConstantTimeCompare(digest(h.Salt, t.Secret), h.Hash) == 1
}

func digest(salt []byte, secret string) []byte {
	m := sha256.New()
	m.Write(salt)
	m.Write([]byte(secret))
	return m.Sum(nil)
}
