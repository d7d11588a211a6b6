package ids

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// kinds is every kind, in order.
var kinds = []Kind{Cluster, User, Project, Binding, Token, Registration, Session, SigningKey, Replica}

// TestFormats pins each kind's wire format: changing one refuses ids that
// are already stored, in kubeconfigs and in tokens.
func TestFormats(t *testing.T) {
	type format struct {
		Name, Prefix string
		Len          int
	}
	want := []format{
		{"cluster", "c-", 7}, {"user", "u-", 12}, {"project", "p-", 10}, {"binding", "b-", 10},
		{"token", "t-", 12}, {"registration token", "r-", 12}, {"session", "s-", 12}, {"signing key", "k-", 12},
		{"replica", "i-", 12},
	}
	var got []format
	for _, k := range kinds {
		got = append(got, format{k.String(), k.Prefix(), k.Len()})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("formats (-want +got):\n%s", diff)
	}
}

func TestNewIsValid(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) {
			seen := map[string]bool{}
			for range 200 {
				id, err := k.New()
				if err != nil {
					t.Fatal(err)
				}
				if !k.Valid(id) {
					t.Fatalf("%v.Valid(%q) = false for an id it made", k, id)
				}
				for _, other := range kinds {
					if other != k && other.Valid(id) {
						t.Errorf("%q is also a valid %v id", id, other)
					}
				}
				seen[id] = true
			}
			if k != Cluster && len(seen) < 200 { // 36^5 cluster ids can collide; the rest should not
				t.Errorf("200 new %v ids hold only %d distinct ones", k, len(seen))
			}
		})
	}
}

func TestNewUnknownKind(t *testing.T) {
	for _, k := range []Kind{0, Replica + 1, 255} {
		if id, err := k.New(); err == nil || id != "" {
			t.Errorf("Kind(%d).New() = %q, %v; want an error", k, id, err)
		}
		if k.Valid("c-abcde") || k.Len() != 0 || k.Prefix() != "" {
			t.Errorf("Kind(%d) behaves as a kind", k)
		}
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		kind Kind
		id   string
		want bool
	}{
		{Cluster, "c-abcde", true},
		{Cluster, "c-00000", true},
		{Cluster, "c-a1b2c", true},
		{Cluster, "c-zzzz9", true},
		{Cluster, "c-abcd", false},   // one short
		{Cluster, "c-abcdef", false}, // one long
		{Cluster, "c-", false},
		{Cluster, "", false},
		{Cluster, "c", false},
		{Cluster, "C-abcde", false},
		{Cluster, "c-ABCDE", false},
		{Cluster, "c-abcdE", false},
		{Cluster, "c-ab-de", false},
		{Cluster, "c-ab_de", false},
		{Cluster, "c-ab.de", false},
		{Cluster, "c-ab/de", false},
		{Cluster, "c-ab%2f", false},
		{Cluster, "c-abcd\x00", false},
		{Cluster, "c-abcd\xff", false},
		{Cluster, "c-abcdé", false},
		{Cluster, "u-abcde", false},
		{Cluster, "cc-abcd", false},
		{Cluster, " c-abcd", false},
		{User, "u-0123456789", true},
		{User, "u-012345678", false},
		{User, "u-01234567890", false},
		{Project, "p-abcdefgh", true},
		{Project, "p-abcdefghij", false},
		{Binding, "b-abcdefgh", true},
		{Binding, "b-abcdefg", false},
		{Token, "t-abcdefghij", true},
		{Token, "r-abcdefghij", false},
		{Registration, "r-abcdefghij", true},
		{Session, "s-abcdefghij", true},
		{SigningKey, "k-abcdefghij", true},
		{SigningKey, "k-abcdefghi-", false},
		{Replica, "i-abcdefghij", true},
		{Replica, "i-abcdefghijk", false},
	}
	for _, tc := range tests {
		t.Run(tc.kind.String()+" "+tc.id, func(t *testing.T) {
			if got := tc.kind.Valid(tc.id); got != tc.want {
				t.Errorf("%v.Valid(%q) = %v, want %v", tc.kind, tc.id, got, tc.want)
			}
		})
	}
}

// TestCharacterSpread checks that every character of the alphabet turns up
// and none outside it, so neither the rejection step nor the mapping skips
// any.
func TestCharacterSpread(t *testing.T) {
	counts := map[rune]int{}
	for range 2000 {
		id, err := User.New()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range id[len(User.Prefix()):] {
			counts[c]++
		}
	}
	for _, c := range alphabet {
		// 20000 characters, 36 of them: about 555 each.
		if n := counts[c]; n < 350 || n > 800 {
			t.Errorf("character %q came %d times in 20000, want about 555", c, n)
		}
	}
	if len(counts) != len(alphabet) {
		t.Errorf("%d distinct characters, want %d", len(counts), len(alphabet))
	}
}

func TestValidAllocs(t *testing.T) {
	ids := []string{"c-abcde", "c-abcdE", strings.Repeat("x", 100), ""}
	for _, id := range ids {
		var ok bool
		if n := testing.AllocsPerRun(100, func() { ok = Cluster.Valid(id) }); n != 0 {
			t.Errorf("Cluster.Valid(%q) allocates %v times", id, n)
		}
		_ = ok
	}
}

func BenchmarkValid(b *testing.B) {
	for b.Loop() {
		Cluster.Valid("c-a1b2c")
	}
}

// FuzzValid checks that whatever Valid accepts has the kind's prefix and
// length and only characters from the alphabet.
func FuzzValid(f *testing.F) {
	f.Add(uint8(Cluster), "c-abcde")
	f.Add(uint8(User), "u-0123456789")
	f.Add(uint8(Cluster), "c-abcdE")
	f.Fuzz(func(t *testing.T, k uint8, id string) {
		kind := Kind(k)
		if !kind.Valid(id) {
			return
		}
		if !strings.HasPrefix(id, kind.Prefix()) || len(id) != kind.Len() {
			t.Fatalf("%v.Valid(%q) with the wrong prefix or length", kind, id)
		}
		if strings.Trim(id[len(kind.Prefix()):], alphabet) != "" {
			t.Fatalf("%v.Valid(%q) with a character outside the alphabet", kind, id)
		}
	})
}
