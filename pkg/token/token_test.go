package token

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/ids"
)

func TestNewParseVerify(t *testing.T) {
	tok, err := New(ids.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !ids.Token.Valid(tok.ID) {
		t.Errorf("id %q is not a token id", tok.ID)
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
	other, _ := New(ids.Token)
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
	good, _ := New(ids.Registration)
	cluster, _ := ids.Cluster.New()
	tests := []struct {
		name string
		in   string
	}{
		{"id of another kind", cluster + ":" + good.Secret},
		{"id one short", good.ID[:len(good.ID)-1] + ":" + good.Secret},
		{"id one long", good.ID + "a:" + good.Secret},
		{"unknown prefix", "x" + good.ID[1:] + ":" + good.Secret},
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

// TestNewKinds checks that tokens are made for the token kinds only, and
// that each parses back.
func TestNewKinds(t *testing.T) {
	for _, kind := range []ids.Kind{ids.Token, ids.Registration, ids.Session} {
		tok, err := New(kind)
		if err != nil {
			t.Fatalf("New(%v): %v", kind, err)
		}
		if !kind.Valid(tok.ID) {
			t.Errorf("New(%v) made id %q", kind, tok.ID)
		}
		if _, err := Parse(tok.String()); err != nil {
			t.Errorf("Parse(New(%v)) = %v", kind, err)
		}
	}
	for _, kind := range []ids.Kind{ids.Cluster, ids.User, ids.Project, ids.Binding, ids.SigningKey, 0} {
		if tok, err := New(kind); err == nil {
			t.Errorf("New(%v) = %q, want an error: such ids do not name tokens", kind, tok.ID)
		}
	}
}

func FuzzParse(f *testing.F) {
	good, _ := New(ids.Token)
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

// FuzzRedactSecrets: whatever the input, no run as long as a secret of
// the secrets' alphabet survives, and input without one is unchanged.
func FuzzRedactSecrets(f *testing.F) {
	tok, err := New(ids.Registration)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("/v3/import/" + tok.String())
	f.Add(`/v3\import\` + tok.String() + ".yaml")
	f.Add("/api/v1/namespaces/default/pods/web-0")
	f.Fuzz(func(t *testing.T, s string) {
		got := RedactSecrets(s)
		run, longest := 0, 0
		for i := 0; i < len(got); i++ {
			if secretChar(got[i]) {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
		if n := encoding.EncodedLen(secretBytes); longest >= n {
			t.Fatalf("RedactSecrets(%q) = %q keeps a run of %d", s, got, longest)
		}
		if !strings.Contains(got, "<redacted>") && got != s {
			t.Fatalf("RedactSecrets(%q) = %q changed input with no secret", s, got)
		}
	})
}
