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

func begin(t *testing.T, b *bed, provider string) (authURL, state string) {
	t.Helper()
	authURL, state, err := b.reg.Begin(context.Background(), provider)
	if err != nil {
		t.Fatal(err)
	}
	return authURL, state
}

func TestRedirectLogin(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "sso", "fake-redirect", map[string]any{"realm": "r"})
	b.save(t, "other", "fake-redirect", map[string]any{"realm": "r"})
	b.save(t, "corp", "fake-password", map[string]any{"realm": "r"})

	authURL, state := begin(t, b, "sso")
	if len(state) < 43 || !strings.Contains(authURL, url.QueryEscape(state)) || strings.Contains(authURL, "verifier") {
		t.Fatalf("begin: %q %q", authURL, state)
	}
	p, err := b.reg.Finish(ctx, "sso", url.Values{"state": {state}, "code": {"alice"}})
	if err != nil || p.Username != "alice" || p.RefreshToken.Reveal() != "refresh-alice" {
		t.Fatalf("finish: %+v %v", p, err)
	}

	_, other := begin(t, b, "other")
	_, expired := begin(t, b, "sso")
	_, refused := begin(t, b, "sso")
	for _, tc := range []struct {
		name, provider string
		cb             url.Values
	}{
		{"replayed state", "sso", url.Values{"state": {state}, "code": {"alice"}}},
		{"unknown state", "sso", url.Values{"state": {"made-up"}, "code": {"alice"}}},
		{"no state", "sso", url.Values{"code": {"alice"}}},
		{"two states", "sso", url.Values{"state": {state, state}, "code": {"alice"}}},
		{"state of another provider", "sso", url.Values{"state": {other}, "code": {"alice"}}},
		{"the other provider's state, spent above", "other", url.Values{"state": {other}, "code": {"alice"}}},
		{"identity provider refused", "sso", url.Values{"state": {refused}, "error": {"access_denied"}}},
		{"after a refusal", "sso", url.Values{"state": {refused}, "code": {"alice"}}},
	} {
		if _, err := b.reg.Finish(ctx, tc.provider, tc.cb); !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("%s: got %v, want ErrInvalidCredentials", tc.name, err)
		}
	}
	b.clock.Add(11 * time.Minute)
	if _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {expired}, "code": {"alice"}}); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("expired state: %v", err)
	}

	if _, _, err := b.reg.Begin(ctx, "corp"); !errors.Is(err, ErrWrongFlow) {
		t.Errorf("begin at a password provider: %v", err)
	}
	if _, err := b.reg.PasswordProvider(ctx, "sso"); !errors.Is(err, ErrWrongFlow) {
		t.Errorf("password login at a redirect provider: %v", err)
	}
	if _, _, err := b.reg.Begin(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("begin at an unknown provider: %v", err)
	}
}

func TestPendingBounded(t *testing.T) {
	b := newBed(t) // MaxPending 4
	b.save(t, "sso", "fake-redirect", map[string]any{"realm": "r"})
	for range 4 {
		begin(t, b, "sso")
	}
	if _, _, err := b.reg.Begin(context.Background(), "sso"); !errors.Is(err, ErrTooManyPending) {
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
		_, live := begin(t, b, "sso")
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
		p, err := b.reg.Finish(context.Background(), "sso", q)
		if err == nil {
			if !withLive || q.Get("state") != live || p.Username != "alice" {
				t.Fatalf("login from %q (live state %v): %+v", raw, withLive, p)
			}
			if _, err := b.reg.Finish(context.Background(), "sso", q); !errors.Is(err, providers.ErrInvalidCredentials) {
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
