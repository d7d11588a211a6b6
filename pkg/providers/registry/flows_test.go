package registry

import (
	"context"
	"crypto/sha256"
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
	bg, err := b.reg.Begin(context.Background(), provider, nil)
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
	p, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {state}, "code": {"alice"}}, bg.Claim)
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
		{"state and claim of another provider", "sso", url.Values{"state": {other.State}, "code": {"alice"}}, other.Claim},
		{"identity provider refused", "sso", url.Values{"state": {refused.State}, "error": {"access_denied"}}, refused.Claim},
		{"after a refusal", "sso", url.Values{"state": {refused.State}, "code": {"alice"}}, refused.Claim},
	} {
		if _, _, err := b.reg.Finish(ctx, tc.provider, tc.cb, tc.claim); !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("%s: got %v, want ErrInvalidCredentials", tc.name, err)
		}
	}
	// Presented at the wrong provider, the claim did not open: nothing
	// was spent, and the login completes where it began.
	if p, _, err := b.reg.Finish(ctx, "other", url.Values{"state": {other.State}, "code": {"alice"}}, other.Claim); err != nil || p.Username != "alice" {
		t.Errorf("the other provider's login: %+v %v", p, err)
	}
	b.clock.Add(11 * time.Minute)
	if _, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {expired.State}, "code": {"alice"}}, expired.Claim); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("expired state: %v", err)
	}

	if _, err := b.reg.Begin(ctx, "corp", nil); !errors.Is(err, ErrWrongFlow) {
		t.Errorf("begin at a password provider: %v", err)
	}
	if _, err := b.reg.PasswordProvider(ctx, "sso"); !errors.Is(err, ErrWrongFlow) {
		t.Errorf("password login at a redirect provider: %v", err)
	}
	if _, err := b.reg.Begin(ctx, "nope", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("begin at an unknown provider: %v", err)
	}
}

// TestRedirectLoginClaim: the callback completes a login only for the
// client that began it. A callback without that claim spends nothing (a
// leaked callback URL can neither log in nor spoil the login); once the
// claim is proved, the state is spent whatever follows.
func TestRedirectLoginClaim(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "sso", "fake-redirect", map[string]any{"realm": "r"})
	bg, other := begin(t, b, "sso"), begin(t, b, "sso")
	forged := []byte(bg.Claim)
	forged[10] ^= 1
	for _, tc := range []struct {
		name  string
		claim string
	}{
		{"no claim (a leaked or planted callback URL)", ""},
		{"the claim of another login", other.Claim},
		{"a changed claim", string(forged)},
		{"a claim that is not base64url", "%%%"},
		{"an oversized claim", strings.Repeat("a", maxClaim+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {bg.State}, "code": {"alice"}}, tc.claim)
			if !errors.Is(err, providers.ErrInvalidCredentials) {
				t.Errorf("got %v, want ErrInvalidCredentials", err)
			}
		})
	}
	if n := b.reg.spent.(*spentStates).len(); n != 0 {
		t.Errorf("%d states spent by callbacks without their claim", n)
	}
	if p, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {bg.State}, "code": {"alice"}}, bg.Claim); err != nil || p.Username != "alice" {
		t.Fatalf("with its claim: %+v %v", p, err)
	}
	if _, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {bg.State}, "code": {"alice"}}, bg.Claim); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("replayed with its claim: %v", err)
	}
}

// TestBeginHoldsNothing: logins begun take no memory, however many; the
// spent states of finished ones are bounded (MaxSpent, 4 here), refused
// past it (fail closed), and swept once their claims have expired.
func TestBeginHoldsNothing(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "sso", "fake-redirect", map[string]any{"realm": "r"})
	var begun []Begun
	for range 1000 {
		begun = append(begun, begin(t, b, "sso"))
	}
	if n := b.reg.spent.(*spentStates).len(); n != 0 {
		t.Fatalf("%d entries after 1000 begins, want 0", n)
	}
	for i := range 4 {
		if _, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {begun[i].State}, "code": {"alice"}}, begun[i].Claim); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	_, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {begun[4].State}, "code": {"alice"}}, begun[4].Claim)
	if !errors.Is(err, ErrTooManyPending) || !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Fatalf("fifth login with a full table: %v, want ErrTooManyPending", err)
	}
	b.clock.Add(11 * time.Minute) // the spent states expire and are swept; so have the claims
	if _, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {begun[5].State}, "code": {"alice"}}, begun[5].Claim); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("a claim older than the ttl: %v", err)
	}
	late := begin(t, b, "sso")
	if _, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {late.State}, "code": {"alice"}}, late.Claim); err != nil {
		t.Errorf("a login after the sweep: %v", err)
	}
	if n := b.reg.spent.(*spentStates).len(); n != 1 {
		t.Errorf("%d spent after the sweep, want 1", n)
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
		p, _, err := b.reg.Finish(context.Background(), "sso", q, lb.Claim)
		if err == nil {
			if !withLive || q.Get("state") != live || p.Username != "alice" {
				t.Fatalf("login from %q (live state %v): %+v", raw, withLive, p)
			}
			if _, _, err := b.reg.Finish(context.Background(), "sso", q, lb.Claim); !errors.Is(err, providers.ErrInvalidCredentials) {
				t.Fatalf("the state was honoured twice: %v", err)
			}
			return
		}
		if !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Fatalf("refusal of %q is not ErrInvalidCredentials: %v", raw, err)
		}
		b.clock.Add(11 * time.Minute) // spent states are swept at the next login
	})
}

// TestSpentSweptInExpiryOrder: spent states leave once their ttl has
// passed, at the next spend, full or not, oldest first.
func TestSpentSweptInExpiryOrder(t *testing.T) {
	p := newSpentStates(100, 10*time.Minute)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	key := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }
	for i := range 10 {
		if err := p.spend(key(fmt.Sprint("s", i)), t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.spend(key("s5"), t0.Add(10*time.Minute)); !errors.Is(err, errSpent) {
		t.Fatalf("s5 spent twice: %v", err)
	}
	// At t0+13m, s0..s3 have expired: they go, the rest stay.
	if err := p.spend(key("late"), t0.Add(13*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, ln := p.len(), p.order.Len(); n != 7 || ln != 7 {
		t.Errorf("%d spent, %d in the expiry list; want 7 and 7", n, ln)
	}
	for s, want := range map[string]error{"s3": nil, "s4": errSpent, "s9": errSpent, "late": errSpent} {
		if err := p.spend(key(s), t0.Add(13*time.Minute)); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", s, err, want)
		}
	}
}

// BenchmarkSpentFull: a spend with a full table of live states costs the
// same whatever the table's size.
func BenchmarkSpentFull(b *testing.B) {
	p := newSpentStates(10000, 10*time.Minute)
	now := time.Now()
	for i := range 10000 {
		p.spend(sha256.Sum256([]byte(fmt.Sprint(i))), now)
	}
	x := sha256.Sum256([]byte("x"))
	b.ResetTimer()
	for b.Loop() {
		if err := p.spend(x, now); !errors.Is(err, ErrTooManyPending) {
			b.Fatal(err)
		}
	}
}

// TestRedirectLoginAcrossReplicas: replicas share the secrets key and the
// store: a login begun through one finishes through another, and its
// state, spent there, is refused by the first (Options.Spent).
func TestRedirectLoginAcrossReplicas(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "sso", "fake-redirect", map[string]any{"realm": "r"})
	replica := func() *Registry {
		o := b.reg.opts
		o.Spent = b.st
		return New(o)
	}
	one, two := replica(), replica()
	bg, err := one.Begin(ctx, "sso", nil)
	if err != nil {
		t.Fatal(err)
	}
	cb := url.Values{"state": {bg.State}, "code": {"alice"}}
	if p, _, err := two.Finish(ctx, "sso", cb, bg.Claim); err != nil || p.Username != "alice" {
		t.Fatalf("finished on the other replica: %+v %v", p, err)
	}
	for name, r := range map[string]*Registry{"the first replica": one, "the second": two} {
		if _, _, err := r.Finish(ctx, "sso", cb, bg.Claim); !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("the state again on %s: %v", name, err)
		}
	}
}
