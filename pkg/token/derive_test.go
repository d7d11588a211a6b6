package token

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/ids"
)

// TestDerive: a derived token is a well-formed token, the same for the same
// parent, purpose and id, and different when any of them differs.
func TestDerive(t *testing.T) {
	parent, err := New(ids.Registration)
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(ids.Registration)
	if err != nil {
		t.Fatal(err)
	}
	child := Derive(parent, "node", "r-child00001")
	if got, err := Parse(child.String()); err != nil || got != child {
		t.Fatalf("Parse(Derive()) = %v, %v; want the token back", got, err)
	}
	if diff := cmp.Diff(child, Derive(parent, "node", "r-child00001")); diff != "" {
		t.Errorf("derived twice (-first +second):\n%s", diff)
	}
	for name, d := range map[string]Token{
		"another parent":  Derive(other, "node", "r-child00001"),
		"another purpose": Derive(parent, "cluster", "r-child00001"),
		"another id":      Derive(parent, "node", "r-child00002"),
	} {
		if d.Secret == child.Secret {
			t.Errorf("%s: same secret", name)
		}
	}
	if child.Secret == parent.Secret {
		t.Error("the derived secret is the parent's")
	}
}
