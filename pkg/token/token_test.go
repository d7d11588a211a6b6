package token

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewParseVerify(t *testing.T) {
	tok, err := New("t-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.ID, "t-") {
		t.Errorf("id %q lacks prefix", tok.ID)
	}
	got, err := Parse(tok.String())
	if err != nil {
		t.Fatalf("Parse(New()) = %v", err)
	}
	if diff := cmp.Diff(tok, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	h, err := Hash(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !Verify(got, h) {
		t.Error("Verify rejected the right secret")
	}
	other, _ := New("t-")
	if Verify(Token{ID: tok.ID, Secret: other.Secret}, h) {
		t.Error("Verify accepted another secret")
	}
	if Verify(tok, Hashed{}) {
		t.Error("Verify accepted an empty stored hash")
	}
	h2, _ := Hash(tok)
	if cmp.Equal(h.Salt, h2.Salt) {
		t.Error("two hashes of one token share a salt")
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := New("r-")
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"no colon", good.ID + good.Secret},
		{"empty id", ":" + good.Secret},
		{"empty secret", good.ID + ":"},
		{"short secret", good.ID + ":" + good.Secret[1:]},
		{"upper id", strings.ToUpper(good.ID) + ":" + good.Secret},
		{"bad secret alphabet", good.ID + ":" + strings.Repeat("1", len(good.Secret))},
		{"two colons", good.ID + ":" + good.Secret + ":x"},
		{"huge", strings.Repeat("a", 10000)},
		{"space", " " + good.String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.in); err != ErrMalformed {
				t.Errorf("Parse(%s) err = %v, want ErrMalformed", tc.name, err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	good, _ := New("t-")
	f.Add(good.String())
	f.Add("t-abc:")
	f.Add(":")
	f.Add("t-\x00:" + good.Secret)
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever parses must print back to exactly the input.
		if tok.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, tok.String())
		}
		if _, err := Parse(tok.String()); err != nil {
			t.Fatalf("reparse failed: %v", err)
		}
	})
}
