package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTokensEndWithTheirParent: whichever way a token is deleted, the
// tokens minted with it go with it, to any depth, except a kubeconfig
// downloaded in a login session; and the caller is told every id that went.
func TestTokensEndWithTheirParent(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		type tok struct{ id, kind, parent string }
		family := []tok{
			{"s-1", KindSession, ""},
			{"p-1", KindPlugin, "s-1"},
			{"a-1", KindPluginACE, "s-1"},
			{"k-1", KindKubeconfig, "s-1"}, // a download: outlives its session
			{"t-1", KindAPI, ""},
			{"t-2", KindAPI, "t-1"},
			{"t-3", KindAPI, "t-2"},
			{"k-2", KindKubeconfig, "t-2"}, // minted with an API token: ends with it
			{"s-2", KindSession, ""},
			{"p-2", KindPlugin, "s-2"},
		}
		setup := func(t *testing.T) *Store {
			st := db.open(t)
			ctx := context.Background()
			must(t, st.CreateUser(ctx, User{ID: "u-a", Username: "alice", Provider: LocalProvider}, []byte("h")))
			for _, f := range family {
				must(t, st.CreateToken(ctx, Token{ID: f.id, UserID: "u-a", Kind: f.kind, ParentID: f.parent,
					CreatedAt: now, ExpiresAt: now.Add(time.Hour), Hashed: hashed([]byte("s"), []byte("h"))}))
			}
			return st
		}
		for _, tc := range []struct {
			name   string
			delete func(st *Store) ([]string, error)
			want   []string
		}{
			{"DeleteToken of a session", func(st *Store) ([]string, error) { return st.DeleteToken(context.Background(), "s-1") },
				[]string{"s-1", "a-1", "p-1"}},
			{"DeleteToken of an API token", func(st *Store) ([]string, error) { return st.DeleteToken(context.Background(), "t-1") },
				[]string{"t-1", "k-2", "t-2", "t-3"}},
			{"DeleteToken of a leaf", func(st *Store) ([]string, error) { return st.DeleteToken(context.Background(), "t-3") },
				[]string{"t-3"}},
			{"a password change ends the sessions", func(st *Store) ([]string, error) {
				return st.UpdateUser(context.Background(), "u-a", UserChange{PasswordHash: []byte("h2"), KeepToken: "s-2"})
			}, []string{"a-1", "p-1", "s-1"}},
			{"a replaced token", func(st *Store) ([]string, error) {
				return st.ReplaceToken(context.Background(), Token{ID: "t-9", UserID: "u-a", Kind: KindAPI, ParentID: "t-1",
					CreatedAt: now.Add(time.Second), ExpiresAt: now.Add(time.Hour), Hashed: hashed([]byte("s"), []byte("h"))}, 0)
			}, []string{"k-2", "t-2", "t-3"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := setup(t)
				gone, err := tc.delete(st)
				must(t, err)
				if diff := cmp.Diff(tc.want, gone); diff != "" {
					t.Errorf("deleted (-want +got):\n%s", diff)
				}
				toks, err := st.ListTokens(context.Background(), "u-a")
				must(t, err)
				for _, f := range family {
					stored := slices.ContainsFunc(toks, func(t Token) bool { return t.ID == f.id })
					if stored == slices.Contains(tc.want, f.id) {
						t.Errorf("token %s stored: %v", f.id, stored)
					}
				}
			})
		}
		t.Run("expiry", func(t *testing.T) {
			st := setup(t)
			ctx := context.Background()
			must(t, st.CreateToken(ctx, Token{ID: "s-old", UserID: "u-a", Kind: KindSession, CreatedAt: now,
				ExpiresAt: now.Add(time.Minute), Hashed: hashed([]byte("s"), []byte("h"))}))
			must(t, st.CreateToken(ctx, Token{ID: "p-old", UserID: "u-a", Kind: KindPlugin, ParentID: "s-old", CreatedAt: now,
				ExpiresAt: now.Add(2 * time.Hour), Hashed: hashed([]byte("s"), []byte("h"))}))
			n, err := st.DeleteExpiredTokens(ctx, now.Add(2*time.Minute))
			if err != nil || n != 2 {
				t.Errorf("DeleteExpiredTokens = %d, %v; want the session and its credential", n, err)
			}
		})
		t.Run("ReplaceToken keeps the newest", func(t *testing.T) {
			st := setup(t)
			ctx := context.Background()
			var gone []string
			for i := range 4 {
				id := "p-" + string(rune('a'+i))
				g, err := st.ReplaceToken(ctx, Token{ID: id, UserID: "u-a", Kind: KindPlugin, ParentID: "s-1",
					CreatedAt: now.Add(time.Duration(i+1) * time.Second), ExpiresAt: now.Add(time.Hour), Hashed: hashed([]byte("s"), []byte("h"))}, 1)
				must(t, err)
				gone = append(gone, g...)
			}
			if diff := cmp.Diff([]string{"p-1", "p-a", "p-b"}, gone); diff != "" {
				t.Errorf("replaced (-want +got):\n%s", diff)
			}
		})
	})
}
