package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of the sealing key: AES-256.
const KeySize = 32

// version is the first byte of every sealed blob.
const version = 1

// ErrUnseal means a blob was not sealed with this key for this purpose, or
// was changed.
var ErrUnseal = errors.New("cannot unseal: wrong key, wrong purpose or corrupted data")

// Sealer encrypts what Drover stores with AES-256-GCM. Each blob is bound to
// its purpose (say, a cluster and a column) as additional data, so a blob
// copied into another row or column does not open.
type Sealer struct{ aead cipher.AEAD }

// New returns a Sealer for a KeySize-byte key; any other length is refused.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sealing key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain for purpose: version byte, random nonce, ciphertext.
func (s *Sealer) Seal(plain []byte, purpose string) ([]byte, error) {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:], plain, []byte(purpose)), nil
}

// Open decrypts a blob Seal made for the same purpose.
func (s *Sealer) Open(blob []byte, purpose string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(blob) < 1+n+s.aead.Overhead() || blob[0] != version {
		return nil, ErrUnseal
	}
	plain, err := s.aead.Open(nil, blob[1:1+n], blob[1+n:], []byte(purpose))
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}

// LoadOrCreate returns a Sealer with the key in the file at path (base64 of
// KeySize bytes), or, when there is none, with a new key it writes there
// with mode 0600. It refuses a key file that others may read.
func LoadOrCreate(path string) (*Sealer, error) {
	key, err := loadOrCreateKey(path)
	if err != nil {
		return nil, err
	}
	return New(key)
}

func loadOrCreateKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	// Owner only (0600), or also its group for reading (0440: a Kubernetes
	// Secret mounted for a pod's fsGroup); never others, never a writer but
	// the owner.
	if fi.Mode().Perm()&0o027 != 0 {
		return nil, fmt.Errorf("secrets key %s has mode %o; others must not read it, nor anyone but its owner write it (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	key, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("secrets key %s: %w", path, err)
	}
	return key, nil
}

// parseKey decodes a key file's content. Its error never quotes the
// content.
func parseKey(b []byte) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("must hold the base64 of %d random bytes", KeySize)
	}
	return key, nil
}

func createKey(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	// O_EXCL: if two servers race on a fresh data dir, one loses and reads
	// the other's key instead of overwriting it.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return key, nil
}
