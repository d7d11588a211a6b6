package shell_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/seal"
	"github.com/drover-dev/drover/pkg/shell"
	"github.com/drover-dev/drover/pkg/store"
)

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newSealer(t testing.TB) *seal.Sealer {
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	s, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openStore(t testing.TB) *store.Store {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var (
	holder = shell.Holder{SessionID: "s1", UserID: "u1", ClusterID: "c-abc12"}
	target = shell.Target{Namespace: "work", Pod: "web-0", Container: "app", Command: []string{"sh", "-c", "echo hi"}}
)

// TestRedeem: a ticket opens exactly once, for exactly its holder, before
// its expiry; every refusal leaves it unspent.
func TestRedeem(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	sealer := newSealer(t)
	k := shell.NewTickets(shell.Options{Sealer: sealer, Spent: openStore(t), Now: clk.Now})

	tamper := func(s string) string {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		b[len(b)-1] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	other := shell.NewTickets(shell.Options{Sealer: newSealer(t), Spent: openStore(t), Now: clk.Now})
	foreign, _, err := other.Issue(holder, target)
	if err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name   string
		ticket func(good string) string
		holder shell.Holder
		after  time.Duration
	}{
		{"another session", nil, shell.Holder{SessionID: "s2", UserID: "u1", ClusterID: "c-abc12"}, 0},
		{"another user", nil, shell.Holder{SessionID: "s1", UserID: "u2", ClusterID: "c-abc12"}, 0},
		{"another cluster", nil, shell.Holder{SessionID: "s1", UserID: "u1", ClusterID: "c-xyz98"}, 0},
		{"expired", nil, holder, shell.DefaultTTL},
		{"tampered", tamper, holder, 0},
		{"sealed by another key", func(string) string { return foreign }, holder, 0},
		{"empty", func(string) string { return "" }, holder, 0},
		{"not base64url", func(g string) string { return g + "+/" }, holder, 0},
		{"too long", func(string) string { return strings.Repeat("A", 1<<20) }, holder, 0},
		{"truncated", func(g string) string { return g[:len(g)/2] }, holder, 0},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			good, expires, err := k.Issue(holder, target)
			if err != nil {
				t.Fatal(err)
			}
			if want := clk.now.Add(shell.DefaultTTL); !expires.Equal(want) {
				t.Errorf("expires %v, want %v", expires, want)
			}
			raw := good
			if tc.ticket != nil {
				raw = tc.ticket(good)
			}
			saved := clk.now
			clk.now = clk.now.Add(tc.after)
			_, err = k.Redeem(ctx, raw, tc.holder)
			clk.now = saved
			if !errors.Is(err, shell.ErrInvalid) {
				t.Fatalf("Redeem: %v, want ErrInvalid", err)
			}
			// The refusal spent nothing: the ticket still opens, once.
			got, err := k.Redeem(ctx, good, holder)
			if err != nil {
				t.Fatalf("the good ticket after the refusal: %v", err)
			}
			if diff := cmp.Diff(target, got); diff != "" {
				t.Errorf("target (-want +got):\n%s", diff)
			}
			if _, err := k.Redeem(ctx, good, holder); !errors.Is(err, shell.ErrSpent) {
				t.Errorf("the second use: %v, want ErrSpent", err)
			}
		})
	}
}

// TestRedeemOnceAcrossReplicas: two servers sharing the sealing key and
// the database (replicas) accept a ticket once between them.
func TestRedeemOnceAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	sealer, st := newSealer(t), openStore(t)
	a := shell.NewTickets(shell.Options{Sealer: sealer, Spent: st})
	b := shell.NewTickets(shell.Options{Sealer: sealer, Spent: st})
	ticket, _, err := a.Issue(holder, target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Redeem(ctx, ticket, holder); err != nil {
		t.Fatalf("the other replica: %v", err)
	}
	if _, err := a.Redeem(ctx, ticket, holder); !errors.Is(err, shell.ErrSpent) {
		t.Fatalf("the issuing replica after the other spent it: %v, want ErrSpent", err)
	}
}

// TestRedeemStoreDown: a ticket that cannot be spent is not honoured.
func TestRedeemStoreDown(t *testing.T) {
	st := openStore(t)
	k := shell.NewTickets(shell.Options{Sealer: newSealer(t), Spent: st})
	ticket, _, err := k.Issue(holder, target)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := k.Redeem(context.Background(), ticket, holder); err == nil || errors.Is(err, shell.ErrInvalid) || errors.Is(err, shell.ErrSpent) {
		t.Fatalf("Redeem with the store closed: %v, want the store's error", err)
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", shell.MaxArgLength+1)
	many := make([]string, shell.MaxArgs+1)
	for i := range many {
		many[i] = "x"
	}
	for _, tc := range []struct {
		name   string
		t      shell.Target
		fields []string
	}{
		{"valid", target, nil},
		{"no container", shell.Target{Namespace: "a", Pod: "b.c", Command: []string{"sh"}}, nil},
		{"everything wrong", shell.Target{Namespace: "A_b", Pod: "", Container: "C", Command: nil}, []string{"namespace", "pod", "container", "command"}},
		{"namespace with a slash", shell.Target{Namespace: "a/b", Pod: "p", Command: []string{"sh"}}, []string{"namespace"}},
		{"pod with a path", shell.Target{Namespace: "a", Pod: "../x", Command: []string{"sh"}}, []string{"pod"}},
		{"pod with a query", shell.Target{Namespace: "a", Pod: "p?x=1", Command: []string{"sh"}}, []string{"pod"}},
		{"empty argument", shell.Target{Namespace: "a", Pod: "p", Command: []string{"sh", ""}}, []string{"command[1]"}},
		{"long argument", shell.Target{Namespace: "a", Pod: "p", Command: []string{long}}, []string{"command[0]"}},
		{"bad UTF-8", shell.Target{Namespace: "a", Pod: "p", Command: []string{"\xff"}}, []string{"command[0]"}},
		{"too many arguments", shell.Target{Namespace: "a", Pod: "p", Command: many}, []string{"command"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range tc.t.Validate() {
				got = append(got, e.Field)
			}
			if diff := cmp.Diff(tc.fields, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzRedeem: whatever a client sends as a ticket (but the one genuine
// ticket), Redeem neither panics nor accepts it.
func FuzzRedeem(f *testing.F) {
	sealer := newSealer(f)
	k := shell.NewTickets(shell.Options{Sealer: sealer, Spent: openStore(f)})
	good, _, err := k.Issue(holder, target)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[:len(good)-1])
	f.Add("")
	f.Add("AAAA")
	f.Add(strings.Repeat("_", 100))
	f.Fuzz(func(t *testing.T, s string) {
		if s == good {
			return
		}
		if _, err := k.Redeem(context.Background(), s, holder); err == nil {
			t.Fatalf("Redeem accepted %q", s)
		}
	})
}
