package registry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
)

func begin(t *testing.T, b *bed, provider string) Begun {
	t.Helper()
	bg, err := b.reg.Begin(context.Background(), provider)
	if err != nil {
		t.Fatal(err)
	}
	return bg
}

func TestRedirectLogin(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "sso", "fake-redirect", map[string]any{"realm": "r"})
	b.save(t, "other", "fake-redirect", map[string]any{"realm": "r"})
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})

	bg := begin(t, b, "sso")
	state := bg.State
	if len(state) < 43 || len(bg.Claim) < 43 || bg.Claim == state || !strings.Contains(bg.AuthURL, url.QueryEscape(state)) ||
		strings.Contains(bg.AuthURL, "verifier") || strings.Contains(bg.AuthURL, bg.Claim) {
		t.Fatalf("begin: %+v", bg)
	}
	p, err := b.reg.Finish(ctx, "sso", url.Values{"state": {state}, "code": {"alice"}}, bg.Claim)
	if err != nil || p.Username != "alice" || p.RefreshToken.Reveal() != "refresh-alice" {
		t.Fatalf("finish: %+v %v", p, err)
	}

	other := begin(t, b, "other")
	expired := begin(t, b, "sso")
	refused := begin(t, b, "sso")
	for _, tc := range []struct {
		name, provider string
		cb             url.Values
		claim          string
	}{
		{"replayed state", "sso", url.Values{"state": {state}, "code": {"alice"}}, bg.Claim},
		{"unknown state", "sso", url.Values{"state": {"made-up"}, "code": {"alice"}}, bg.Claim},
		{"no state", "sso", url.Values{"code": {"alice"}}, bg.Claim},
		{"two states", "sso", url.Values{"state": {state, state}, "code": {"alice"}}, bg.Claim},
		{"state of another provider", "sso", url.Values{"state": {other.State}, "code": {"alice"}}, other.Claim},
		{"the other provider's state, spent above", "other", url.Values{"state": {other.State}, "code": {"alice"}}, other.Claim},
		{"identity provider refused", "sso", url.Values{"state": {refused.State}, "error": {"access_denied"}}, refused.Claim},
		{"after a refusal", "sso", url.Values{"state": {refused.State}, "code": {"alice"}}, refused.Claim},
	} {
		if _, err := b.reg.Finish(ctx, tc.provider, tc.cb, tc.claim); !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("%s: got %v, want ErrInvalidCredentials", tc.name, err)
		}
	}
	b.clock.Add(11 * time.Minute)
	if _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {expired.State}, "code": {"alice"}}, expired.Claim); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("expired state: %v", err)
	}

	if _, err := b.reg.Begin(ctx, "corp"); !errors.Is(err, ErrWrongFlow) {
		t.Errorf("begin at a password provider: %v", err)
	}
	if _, err := b.reg.PasswordProvider(ctx, "sso"); !errors.Is(err, ErrWrongFlow) {
		t.Errorf("password login at a redirect provider: %v", err)
	}
	if _, err := b.reg.Begin(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("begin at an unknown provider: %v", err)
	}
}

// TestRedirectLoginClaim: the callback completes a login only for the
// client that began it; the state is spent either way.
func TestRedirectLoginClaim(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "sso", "fake-redirect", map[string]any{"realm": "r"})
	noClaim, wrongClaim := begin(t, b, "sso"), begin(t, b, "sso")
	for _, tc := range []struct {
		name  string
		state string
		claim string
	}{
		{"callback without the claim (a leaked or planted callback URL)", noClaim.State, ""},
		{"claim of another login", wrongClaim.State, noClaim.Claim},
		{"the right claim after a refusal: the state is spent", wrongClaim.State, wrongClaim.Claim},
		{"the right claim for the first: spent too", noClaim.State, noClaim.Claim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.reg.Finish(ctx, "sso", url.Values{"state": {tc.state}, "code": {"alice"}}, tc.claim)
			if !errors.Is(err, providers.ErrInvalidCredentials) {
				t.Errorf("got %v, want ErrInvalidCredentials", err)
			}
		})
	}
	ok := begin(t, b, "sso")
	if p, err := b.reg.Finish(ctx, "sso", url.Values{"state": {ok.State}, "code": {"alice"}}, ok.Claim); err != nil || p.Username != "alice" {
		t.Errorf("with its claim: %+v %v", p, err)
	}
}

func TestPendingBounded(t *testing.T) {
	b := newBed(t) // MaxPending 4
	b.save(t, "sso", "fake-redirect", map[string]any{"realm": "r"})
	for range 4 {
		begin(t, b, "sso")
	}
	if _, err := b.reg.Begin(context.Background(), "sso"); !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("fifth pending login: %v, want ErrTooManyPending", err)
	}
	b.clock.Add(11 * time.Minute) // the four expire and are swept
	begin(t, b, "sso")
	if n := b.reg.pending.len(); n != 1 {
		t.Errorf("%d pending after the sweep, want 1", n)
	}
}

// FuzzFinish feeds arbitrary callback queries to Finish: nothing panics,
// nothing but the live state with a code logs in, every refusal is
// ErrInvalidCredentials, and a state is never honoured twice.
func FuzzFinish(f *testing.F) {
	for _, s := range []string{"state=x&code=alice", "code=alice", "state=&code=", "state=a&state=b", "error=access_denied&state=x",
		"%zz", "state=%00&code=%0a", strings.Repeat("state=x&", 100)} {
		f.Add(s, false)
		f.Add(s, true)
	}
	b := newBed(f)
	b.save(f, "sso", "fake-redirect", map[string]any{"realm": "r"})
	f.Fuzz(func(t *testing.T, raw string, withLive bool) {
		lb := begin(t, b, "sso")
		live := lb.State
		q, _ := url.ParseQuery(raw)
		if q == nil {
			q = url.Values{}
		}
		if withLive {
			q["state"] = append([]string{live}, q["state"][:min(len(q["state"]), 1)]...)
			if len(q["state"]) == 1 {
				q["code"] = []string{"alice"}
			}
		}
		p, err := b.reg.Finish(context.Background(), "sso", q, lb.Claim)
		if err == nil {
			if !withLive || q.Get("state") != live || p.Username != "alice" {
				t.Fatalf("login from %q (live state %v): %+v", raw, withLive, p)
			}
			if _, err := b.reg.Finish(context.Background(), "sso", q, lb.Claim); !errors.Is(err, providers.ErrInvalidCredentials) {
				t.Fatalf("the state was honoured twice: %v", err)
			}
			return
		}
		if !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Fatalf("refusal of %q is not ErrInvalidCredentials: %v", raw, err)
		}
		b.reg.pending.take(live) // keep the map small
	})
}

// TestPendingSweptInExpiryOrder: expired logins leave at the next Begin,
// full or not (a table that is never full no longer keeps every state
// until it fills), oldest first, and a state taken early leaves nothing
// behind.
func TestPendingSweptInExpiryOrder(t *testing.T) {
	p := newPendingLogins(100, 10*time.Minute)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		now := t0.Add(time.Duration(i) * time.Minute)
		if err := p.put(fmt.Sprint("s", i), pendingLogin{provider: "sso", expires: now.Add(10 * time.Minute)}, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := p.take("s5"); !ok {
		t.Fatal("s5 not pending")
	}
	// At t0+13m, s0..s3 have expired: they go, the rest stay.
	if err := p.put("late", pendingLogin{provider: "sso", expires: t0.Add(23 * time.Minute)}, t0.Add(13*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, ln := p.len(), p.order.Len(); n != 6 || ln != 6 {
		t.Errorf("%d pending, %d in the expiry list; want 6 and 6", n, ln)
	}
	for _, s := range []string{"s3", "s5"} {
		if _, ok := p.take(s); ok {
			t.Errorf("%s still pending", s)
		}
	}
	for _, s := range []string{"s4", "s9", "late"} {
		if _, ok := p.take(s); !ok {
			t.Errorf("%s gone", s)
		}
	}
}

// BenchmarkPendingFull: Begin with a full table of live logins costs the
// same whatever the table's size (it used to scan all of it).
func BenchmarkPendingFull(b *testing.B) {
	p := newPendingLogins(10000, 10*time.Minute)
	now := time.Now()
	for i := range 10000 {
		p.put(fmt.Sprint(i), pendingLogin{expires: now.Add(10 * time.Minute)}, now)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := p.put("x", pendingLogin{expires: now.Add(10 * time.Minute)}, now); !errors.Is(err, ErrTooManyPending) {
			b.Fatal(err)
		}
	}
}
