package shell_test

import (
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/shell"
)

// TestRedeemRace: one ticket redeemed by many goroutines at once, through
// two Tickets sharing the key and the store (two replicas), is honoured
// exactly once; every other attempt is ErrSpent or the store's error,
// never a success.
func TestRedeemRace(t *testing.T) {
	ctx := context.Background()
	sealer, st := newSealer(t), openStore(t)
	replicas := []*shell.Tickets{shell.NewTickets(shell.Options{Sealer: sealer, Spent: st}),
		shell.NewTickets(shell.Options{Sealer: sealer, Spent: st})}
	for round := range 5 {
		ticket, _, err := replicas[0].Issue(holder, target)
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu    sync.Mutex
			wg    sync.WaitGroup
			wins  int
			start = make(chan struct{})
		)
		for i := range 32 {
			wg.Go(func() {
				<-start
				_, err := replicas[i%2].Redeem(ctx, ticket, holder)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, shell.ErrInvalid):
					t.Errorf("round %d: ErrInvalid for a good ticket: %v", round, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Fatalf("round %d: the ticket was honoured %d times, want once", round, wins)
		}
	}
}

// TestRedeemSealedForAnotherPurpose: a ticket's very content sealed by the
// same key for another of Drover's purposes is no ticket.
func TestRedeemSealedForAnotherPurpose(t *testing.T) {
	ctx := context.Background()
	sealer := newSealer(t)
	k := shell.NewTickets(shell.Options{Sealer: sealer, Spent: openStore(t)})
	good, _, err := k.Issue(holder, target)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := base64.RawURLEncoding.DecodeString(good)
	plain, err := sealer.Open(blob, "drover/shell-ticket")
	if err != nil {
		t.Fatal(err)
	}
	for _, purpose := range []string{"drover/login-claim/local", "drover/login-handoff", "drover/user/u1/refresh", "drover/shell-ticket\x00", ""} {
		forged, err := sealer.Seal(plain, purpose)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Redeem(ctx, base64.RawURLEncoding.EncodeToString(forged), holder); !errors.Is(err, shell.ErrInvalid) {
			t.Errorf("sealed for %q: %v, want ErrInvalid", purpose, err)
		}
	}
	if _, err := k.Redeem(ctx, good, holder); err != nil {
		t.Fatalf("the genuine ticket after the forgeries: %v", err)
	}
}

// TestRedeemOnceAcrossSkewedReplicas: replicas whose clocks differ still
// honour a ticket once. SpendSecret sweeps the spent digests with the
// caller's clock: a replica whose clock is ahead removes the digest of a
// ticket that the replica which issued it still takes for unexpired, and
// that replica honours it again for as long as the clocks differ (up to
// the TTL).
func TestRedeemOnceAcrossSkewedReplicas(t *testing.T) {
	ctx := context.Background()
	sealer, st := newSealer(t), openStore(t)
	base := time.Now()
	behind := &clock{now: base}
	ahead := &clock{now: base.Add(20 * time.Second)}
	a := shell.NewTickets(shell.Options{Sealer: sealer, Spent: st, Now: behind.Now})
	b := shell.NewTickets(shell.Options{Sealer: sealer, Spent: st, Now: ahead.Now})
	ticket, _, err := a.Issue(holder, target)
	if err != nil {
		t.Fatal(err)
	}
	behind.now = base.Add(15 * time.Second)
	ahead.now = base.Add(35 * time.Second)
	if _, err := a.Redeem(ctx, ticket, holder); err != nil {
		t.Fatalf("the first use: %v", err)
	}
	// Anything the replica ahead spends sweeps with its clock.
	other, _, err := b.Issue(holder, target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Redeem(ctx, other, holder); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Redeem(ctx, ticket, holder); !errors.Is(err, shell.ErrSpent) {
		t.Fatalf("the ticket used again 15 s into its 30 s, after a replica 20 s ahead spent another: %v, want ErrSpent", err)
	}
}
