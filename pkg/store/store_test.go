package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/token"
)

func TestStore(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		where := db.fresh(t)
		st, err := db.openAt(ctx, where)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		u := User{ID: "u-1", Username: "alice", Admin: true, CreatedAt: now, Provider: LocalProvider}
		if err := st.CreateUser(ctx, u, []byte("hash")); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, User{ID: "u-2", Username: "alice"}, []byte("h")); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate username: %v, want ErrConflict", err)
		}
		got, hash, err := st.UserByUsername(ctx, "alice")
		if err != nil || string(hash) != "hash" {
			t.Fatalf("UserByUsername = %v, %q", err, hash)
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("user (-want +got):\n%s", diff)
		}
		if _, err := st.UserByID(ctx, "u-404"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing user: %v", err)
		}

		tok, _ := token.New(ids.Token)
		h, _ := token.Hash(tok)
		// Scoped to a cluster this test never deletes (a deleted cluster takes
		// its tokens with it: TestRemoveCluster).
		rec := Token{ID: tok.ID, UserID: "u-1", Kind: KindAPI, ClusterID: "c-2", Description: "ci", Hashed: h,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateToken(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := st.TouchToken(ctx, tok.ID, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		rec.LastUsedAt = now.Add(time.Minute)
		back, err := st.Token(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rec, back); diff != "" {
			t.Errorf("token (-want +got):\n%s", diff)
		}
		if !token.Verify(tok, back.Hashed) {
			t.Error("stored hash does not verify")
		}

		c := Cluster{ID: "c-1", Name: "prod", CreatedAt: now}
		if err := st.CreateCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateCluster(ctx, Cluster{ID: "c-2", Name: "prod"}); !errors.Is(err, ErrConflict) {
			t.Errorf("duplicate cluster name: %v", err)
		}
		rt, _ := token.New(ids.Registration)
		rh, _ := token.Hash(rt)
		if err := st.CreateRegistrationToken(ctx, RegistrationToken{ID: rt.ID, ClusterID: "c-1", Hashed: rh, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateRegistrationToken(ctx, RegistrationToken{ID: "r-x", ClusterID: "c-404", Hashed: rh}); err == nil {
			t.Error("registration token for a missing cluster accepted")
		}

		// Reopen: migrations are not re-applied, data is kept.
		st.Close()
		if st, err = db.openAt(ctx, where); err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		cs, err := st.ListClusters(ctx)
		if err != nil || len(cs) != 1 {
			t.Fatalf("after reopen: %v, %v", cs, err)
		}
		// Deleting the cluster takes its registration tokens with it.
		if err := st.DeleteCluster(ctx, "c-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RegistrationToken(ctx, rt.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("registration token outlived its cluster: %v", err)
		}
		if err := st.DeleteCluster(ctx, "c-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		n, err := st.DeleteExpiredTokens(ctx, now.Add(2*time.Hour))
		if err != nil || n != 1 {
			t.Errorf("DeleteExpiredTokens = %d, %v; want 1", n, err)
		}
	})
}

// TestFilesPrivate: the database and SQLite's files beside it are the
// server's alone, also when an older server left them readable.
func TestFilesPrivate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "drover.db")
	for round := 0; round < 2; round++ {
		st, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, User{ID: "u-" + string(rune('a'+round)), Username: "u" + string(rune('a'+round)), Provider: LocalProvider}, []byte("h")); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(path + "*")
		if len(files) < 2 {
			t.Errorf("files %v: want the database and its WAL", files)
		}
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("round %d: %s has mode %v, want 0600", round, filepath.Base(f), fi.Mode().Perm())
			}
		}
		st.Close()
		// The next round opens files an older server made readable.
		for _, f := range files {
			os.Chmod(f, 0o644)
		}
	}
}
