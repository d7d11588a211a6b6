package checksum

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const lower = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParse(t *testing.T) {
	mixed := "0123456789AbCdEf0123456789aBcDeF0123456789ABCDEF0123456789abcdef"
	tests := []struct {
		name, in string
		want     string
		wantErr  string // "" for success
	}{
		{"lower case", lower, lower, ""},
		{"upper case", strings.ToUpper(lower), lower, ""},
		{"mixed case", mixed, lower, ""},
		{"trailing newline, as sha256sum writes it", lower + "\n", lower, ""},
		{"surrounding spaces", "  " + lower + "\t", lower, ""},
		{"empty", "", "", "must be 64 hex characters (a SHA-256), not 0"},
		{"odd length", lower[1:], "", "must be 64 hex characters (a SHA-256), not 63"},
		{"one too many", lower + "0", "", "must be 64 hex characters (a SHA-256), not 65"},
		{"twice as long", lower + lower, "", "must be 64 hex characters (a SHA-256), not 128"},
		{"non-hex letter", "g" + lower[1:], "", "must be 64 hex characters (a SHA-256): character 1 is not a hex digit"},
		{"non-hex at the end", lower[:63] + "G", "", "must be 64 hex characters (a SHA-256): character 64 is not a hex digit"},
		{"inner space", lower[:10] + " " + lower[11:], "", "must be 64 hex characters (a SHA-256): character 11 is not a hex digit"},
		{"sha256sum line", lower + "  drover-ca.pem", "", "must be 64 hex characters (a SHA-256), not 79"},
		{"prefixed", "sha256:" + lower[7:], "", "must be 64 hex characters (a SHA-256): character 1 is not a hex digit"},
		{"non-ASCII", "é" + lower[2:], "", "must be 64 hex characters (a SHA-256): character 1 is not a hex digit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Parse (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %q, %v; want ErrMalformed", got, err)
			}
			if diff := cmp.Diff(tc.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if got != "" {
				t.Errorf("Parse returned %q with an error", got)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{lower, lower, true},
		{lower, strings.ToUpper(lower), true},
		{lower + "\n", lower, true},
		{lower, "1" + lower[1:], false},
		{lower[1:], lower[1:], false}, // malformed is never equal, even to itself
		{"", "", false},
	}
	for _, tc := range tests {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestOfAndHasher(t *testing.T) {
	data := []byte("a CA bundle")
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	if got := Of(data); got != want {
		t.Errorf("Of = %q, want %q", got, want)
	}
	h := NewHasher()
	if _, err := io.Copy(h, strings.NewReader(string(data))); err != nil {
		t.Fatal(err)
	}
	if got := h.Sum(); got != want {
		t.Errorf("Hasher.Sum = %q, want %q", got, want)
	}
	if parsed, err := Parse(Of(data)); err != nil || parsed != want {
		t.Errorf("Parse(Of(x)) = %q, %v: what Drover writes must parse unchanged", parsed, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(lower)
	f.Add(strings.ToUpper(lower) + "\n")
	f.Add("xyz")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		if strings.ToLower(strings.TrimSpace(s)) != got {
			t.Fatalf("Parse(%q) = %q, not the input in lower case", s, got)
		}
		if _, err := hex.DecodeString(got); err != nil || len(got) != Len {
			t.Fatalf("Parse(%q) = %q, which is not 64 hex characters", s, got)
		}
	})
}
