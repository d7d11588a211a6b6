package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOpenBlobSealedBeforeTheMove: a blob sealed by the code this package
// came from (pkg/provision/seal.go at b8d42f5) still opens, so what is
// stored at rest keeps working.
func TestOpenBlobSealedBeforeTheMove(t *testing.T) {
	key := mustHex(t, "00070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9")
	blob := mustHex(t, "01bb74d2ce96fcb3d4aabf0bb6e02183ab4137746250346460239d08d01ead369d8be841ff1d480fd6c90f7235141b62eea0fd5a1747f5e858fe481558bb")
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Open(blob, "refresh:u-abc")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("refresh-token-sealed-by-provision", string(got)); diff != "" {
		t.Errorf("plain text (-want +got):\n%s", diff)
	}
	// And the layout of new blobs is the same: version, nonce, ciphertext+tag.
	fresh, err := s.Seal(got, "refresh:u-abc")
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh) != len(blob) || fresh[0] != blob[0] {
		t.Errorf("new blob is %d bytes starting %d, old %d starting %d", len(fresh), fresh[0], len(blob), blob[0])
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	s, err := New(bytes.Repeat([]byte{9}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := s.Seal([]byte("token"), "a")
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(blob)
	flipped[len(flipped)-1] ^= 1
	v2 := bytes.Clone(blob)
	v2[0] = 2
	for _, tc := range []struct {
		name    string
		sealer  *Sealer
		blob    []byte
		purpose string
		want    string
		wantErr error
	}{
		{"same key and purpose", s, blob, "a", "token", nil},
		{"another purpose", s, blob, "b", "", ErrUnseal},
		{"another key", other, blob, "a", "", ErrUnseal},
		{"changed byte", s, flipped, "a", "", ErrUnseal},
		{"unknown version", s, v2, "a", "", ErrUnseal},
		{"truncated", s, blob[:10], "a", "", ErrUnseal},
		{"empty", s, nil, "a", "", ErrUnseal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open(tc.blob, tc.purpose)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("plain text (-want +got):\n%s", diff)
			}
		})
	}
	if again, _ := s.Seal([]byte("token"), "a"); bytes.Equal(again, blob) {
		t.Error("two seals of the same text are equal: the nonce is not random")
	}
}

func TestNewRefusesWrongKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		}
	}
}

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secrets.key")
	s, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	blob, err := s.Seal([]byte("x"), "p")
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open(blob, "p"); err != nil || string(got) != "x" {
		t.Errorf("reloaded key does not open what the first sealed: %q, %v", got, err)
	}

	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A Secret mounted for the pod's group (fsGroup): 0440 is fine.
	mounted := filepath.Join(t.TempDir(), "secrets.key")
	if err := os.WriteFile(mounted, content, 0o440); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(mounted); err != nil {
		t.Errorf("a key readable by its group only: %v", err)
	}
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
	}{
		{"readable by others", string(content), 0o644},
		{"readable by others, not its group", string(content), 0o604},
		{"writable by its group", string(content), 0o660},
		{"short key", "AAAA\n", 0o600},
		{"not base64", "!!!" + string(content), 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "secrets.key")
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreate(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), strings.TrimSpace(string(content))) {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
}

// FuzzOpen: no blob panics Open, and only sealed ones open.
func FuzzOpen(f *testing.F) {
	s, _ := New(bytes.Repeat([]byte{3}, KeySize))
	good, _ := s.Seal([]byte("x"), "p")
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(append([]byte{2}, good[1:]...))
	f.Fuzz(func(t *testing.T, blob []byte) {
		// Only what was sealed under this key ("x") opens: forging a GCM
		// tag is not something a fuzzer does.
		if plain, err := s.Open(blob, "p"); err == nil && string(plain) != "x" {
			t.Fatalf("a forged blob opened: %q", plain)
		} else if err != nil && !errors.Is(err, ErrUnseal) {
			t.Fatalf("error %v is not ErrUnseal", err)
		}
	})
}
