package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/token"
	"github.com/drover-dev/drover/test/fake"
)

func newClock() *fake.Clock { return fake.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

func openStore(t testing.TB) *store.Store {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// mint stores a user and a token for it and returns the raw token.
func mint(t testing.TB, st *store.Store, username string, admin bool, cluster string, expires time.Time) string {
	t.Helper()
	ctx := context.Background()
	uid := "u-" + username
	if _, err := st.UserByID(ctx, uid); errors.Is(err, store.ErrNotFound) {
		if err := st.CreateUser(ctx, store.User{ID: uid, Username: username, Admin: admin}, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	tok, _ := token.New(ids.Token)
	h, _ := token.Hash(tok)
	if err := st.CreateToken(ctx, store.Token{ID: tok.ID, UserID: uid, Kind: store.KindAPI, ClusterID: cluster, Hashed: h, ExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

func TestAuthenticateToken(t *testing.T) {
	st := openStore(t)
	clk := newClock()
	a := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler), Now: clk.Now})
	t.Cleanup(a.Wait)
	ctx := context.Background()
	future := clk.Now().Add(time.Hour)
	admin := mint(t, st, "root", true, "", future)
	scoped := mint(t, st, "alice", false, "c-aaaaa", future)
	expiring := mint(t, st, "alice", false, "", clk.Now().Add(time.Minute))
	adminTok, _ := token.Parse(admin)
	scopedTok, _ := token.Parse(scoped)
	// A server replica's peer credential, registered as replicas do: it
	// says which replica relayed a request, never who the user is.
	peer, err := token.New(ids.Replica)
	if err != nil {
		t.Fatal(err)
	}
	peerHash, _ := token.Hash(peer)
	if err := st.RegisterReplica(ctx, store.Replica{ID: peer.ID, URL: "https://127.0.0.1:1", Peer: peerHash}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		raw     string
		want    Identity
		wantErr bool
	}{
		{name: "admin", raw: admin, want: Identity{UserID: "u-root", Username: "root", Admin: true,
			Groups: []string{downstream.AdminGroup}, TokenID: adminTok.ID, TokenKind: store.KindAPI, ExpiresAt: future, StreamOwner: adminTok.ID}},
		{name: "scoped user", raw: scoped, want: Identity{UserID: "u-alice", Username: "alice",
			TokenID: scopedTok.ID, TokenKind: store.KindAPI, ClusterID: "c-aaaaa", ExpiresAt: future, StreamOwner: scopedTok.ID}},
		{name: "malformed", raw: "nope", wantErr: true},
		{name: "unknown id", raw: "t-unknown00:" + adminTok.Secret, wantErr: true},
		{name: "wrong secret", raw: adminTok.ID + ":" + scopedTok.Secret, wantErr: true},
		{name: "a replica's peer credential", raw: peer.String(), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 2 { // the second call is served from the cache
				got, err := a.AuthenticateToken(ctx, tc.raw)
				if (err != nil) != tc.wantErr {
					t.Fatalf("call %d: err = %v, wantErr %v", i, err, tc.wantErr)
				}
				if err != nil && !errors.Is(err, ErrUnauthenticated) {
					t.Errorf("err %v is not ErrUnauthenticated", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("call %d (-want +got):\n%s", i, diff)
				}
			}
		})
	}

	t.Run("expiry holds on a cached token", func(t *testing.T) {
		if _, err := a.AuthenticateToken(ctx, expiring); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Minute)
		if _, err := a.AuthenticateToken(ctx, expiring); err == nil {
			t.Fatal("expired token accepted")
		}
	})

	t.Run("revocation holds on the next request", func(t *testing.T) {
		if _, err := a.AuthenticateToken(ctx, admin); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeleteToken(ctx, adminTok.ID); err != nil {
			t.Fatal(err)
		}
		a.Invalidate(adminTok.ID)
		if _, err := a.AuthenticateToken(ctx, admin); err == nil {
			t.Fatal("revoked token accepted")
		}
	})
}

func TestWithAuthentication(t *testing.T) {
	st := openStore(t)
	a := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(a.Wait)
	raw := mint(t, st, "bob", false, "", time.Now().Add(time.Hour))
	var got []string
	h := WithAuthentication(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := FromContext(r.Context())
		if !ok {
			t.Error("no identity in context")
		}
		got = append(got, id.Username)
	}), a, slog.New(slog.DiscardHandler))
	tests := []struct {
		name   string
		header []string
		code   int
	}{
		{"valid", []string{"Bearer " + raw}, 200},
		{"scheme in any case", []string{"bearer " + raw}, 200},
		{"missing", nil, 401},
		{"basic", []string{"Basic Ym9iOng="}, 401},
		{"two headers", []string{"Bearer " + raw, "Bearer " + raw}, 401},
		{"empty bearer", []string{"Bearer "}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			r := httptest.NewRequest("GET", "/", nil)
			r.Header["Authorization"] = tc.header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Errorf("code = %d, want %d", w.Code, tc.code)
			}
			if tc.code == 200 && !cmp.Equal(got, []string{"bob"}) {
				t.Errorf("handler saw %v", got)
			}
			if tc.code != 200 && got != nil {
				t.Errorf("handler ran for a refused request")
			}
		})
	}
}

// failing is a TokenAuthenticator whose store fails with err.
type failing struct{ err error }

func (f failing) AuthenticateToken(context.Context, string) (Identity, error) {
	return Identity{}, fmt.Errorf("%w: %w", ErrUnauthenticated, f.err)
}

// TestWithAuthenticationStoreDown: a credential that cannot be checked
// because the database cannot be reached is refused with 503 and
// Retry-After (the client retries), not 401 (which asks for new
// credentials); any other failure stays 401. Neither goes further.
func TestWithAuthenticationStoreDown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		code  int
		retry string
	}{
		{"database starting up", &pgconn.PgError{Code: "57P03"}, 503, "1"},
		{"database unreachable", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, 503, "1"},
		{"unknown token", store.ErrNotFound, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := WithAuthentication(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Error("the handler ran for a refused request")
			}), failing{tc.err}, slog.New(slog.DiscardHandler))
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer t-abcdefghij:secret")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.code || w.Header().Get("Retry-After") != tc.retry {
				t.Errorf("code %d Retry-After %q, want %d %q", w.Code, w.Header().Get("Retry-After"), tc.code, tc.retry)
			}
		})
	}
}

// BenchmarkCachedCheck measures the per-request token check on a warm cache
// (the target is ≤ 5 µs).
func BenchmarkCachedCheck(b *testing.B) {
	st := openStore(b)
	a := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler), CacheTTL: time.Hour})
	b.Cleanup(a.Wait)
	raw := mint(b, st, "bench", false, "", time.Now().Add(time.Hour))
	ctx := context.Background()
	if _, err := a.AuthenticateToken(ctx, raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.AuthenticateToken(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUncachedCheck is the same check with a store read every time.
func BenchmarkUncachedCheck(b *testing.B) {
	st := openStore(b)
	a := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler), CacheTTL: time.Nanosecond})
	b.Cleanup(a.Wait)
	raw := mint(b, st, "bench", false, "", time.Now().Add(time.Hour))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.AuthenticateToken(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
