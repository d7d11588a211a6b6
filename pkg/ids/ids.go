package ids

import (
	"crypto/rand"
	"fmt"
)

// alphabet is what the random part of an id is made of: safe in URLs,
// headers, file names and DNS labels, and case-insensitive readers cannot
// confuse two ids.
const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// Kind is a kind of id.
type Kind uint8

// Kinds. The comment of each gives its format.
const (
	Cluster      Kind = iota + 1 // c- and 5 characters
	User                         // u- and 10
	Project                      // p- and 8
	Binding                      // b- and 8
	Token                        // t- and 10: user API, kubeconfig and opaque session tokens
	Registration                 // r- and 10: cluster and node registration tokens
	Session                      // s- and 10: the row of a login session whose credential is a JWT
	SigningKey                   // k- and 10: a session signing key (the JWT's kid)
	Replica                      // i- and 10: a server replica (instance) and its peer credential
)

// format returns the kind's prefix and the length of its random part; n is
// 0 for a value that is no kind.
func (k Kind) format() (prefix string, n int) {
	switch k {
	case Cluster:
		return "c-", 5
	case User:
		return "u-", 10
	case Project:
		return "p-", 8
	case Binding:
		return "b-", 8
	case Token:
		return "t-", 10
	case Registration:
		return "r-", 10
	case Session:
		return "s-", 10
	case SigningKey:
		return "k-", 10
	case Replica:
		return "i-", 10
	}
	return "", 0
}

// String names the kind, for error messages.
func (k Kind) String() string {
	switch k {
	case Cluster:
		return "cluster"
	case User:
		return "user"
	case Project:
		return "project"
	case Binding:
		return "binding"
	case Token:
		return "token"
	case Registration:
		return "registration token"
	case Session:
		return "session"
	case SigningKey:
		return "signing key"
	case Replica:
		return "replica"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Prefix returns the prefix of the kind's ids ("c-" for Cluster).
func (k Kind) Prefix() string {
	p, _ := k.format()
	return p
}

// Len returns the length of the kind's ids, prefix included; 0 for a value
// that is no kind.
func (k Kind) Len() int {
	p, n := k.format()
	if n == 0 {
		return 0
	}
	return len(p) + n
}

// New returns a fresh id of kind k.
func (k Kind) New() (string, error) {
	prefix, n := k.format()
	if n == 0 {
		return "", fmt.Errorf("new id: %v is not a kind of id", k)
	}
	b := make([]byte, len(prefix)+n)
	copy(b, prefix)
	fill(b[len(prefix):])
	return string(b), nil
}

// Valid reports whether id is an id of kind k: its prefix, then exactly the
// kind's number of characters from a-z 0-9. It never allocates.
func (k Kind) Valid(id string) bool {
	prefix, n := k.format()
	if n == 0 || len(id) != len(prefix)+n || id[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// fill sets every byte of dst to a random character of alphabet.
func fill(dst []byte) {
	// Bytes at or above the largest multiple of len(alphabet) are drawn
	// again, so that every character is equally likely.
	const limit = 256 - 256%len(alphabet)
	var buf [32]byte
	for i := 0; i < len(dst); {
		rand.Read(buf[:]) // never fails (crypto/rand, Go 1.24+)
		for _, v := range buf {
			if int(v) >= limit {
				continue
			}
			dst[i] = alphabet[int(v)%len(alphabet)]
			if i++; i == len(dst) {
				break
			}
		}
	}
}
