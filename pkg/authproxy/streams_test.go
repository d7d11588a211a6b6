package authproxy

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/store"
)

func TestStreams(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if err := st.CreateUser(ctx, store.User{ID: "u-1", Username: "u"}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []store.Token{
		{ID: "t-kept", UserID: "u-1", Kind: store.KindAPI, ExpiresAt: now.Add(time.Hour)},
		{ID: "t-deleted", UserID: "u-1", Kind: store.KindAPI, ExpiresAt: now.Add(time.Hour)},
		{ID: "t-expiring", UserID: "u-1", Kind: store.KindAPI, ExpiresAt: now.Add(300 * time.Millisecond)},
	} {
		tok.Hashed.Salt, tok.Hashed.Hash = []byte("s"), []byte("h")
		if err := st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	s := NewStreams(st, 50*time.Millisecond, nil, slog.New(slog.DiscardHandler))
	open := func(id string) context.Context {
		c, cancel := context.WithCancelCause(ctx)
		s.track(id, Owner{UserID: "u-1", ClusterID: "c-1"}, cancel)
		return c
	}
	kept, deleted, expiring := open("t-kept"), open("t-deleted"), open("t-expiring")
	revoked1, revoked2 := open("t-revoked"), open("t-revoked")
	untracked := open("t-kept")

	if n := s.Revoke("t-revoked"); n != 2 {
		t.Errorf("Revoke ended %d streams, want 2", n)
	}
	for _, c := range []context.Context{revoked1, revoked2} {
		if !errors.Is(context.Cause(c), errRevoked) {
			t.Errorf("revoked stream cause = %v", context.Cause(c))
		}
	}
	go s.Run(ctx)
	if _, err := st.DeleteToken(ctx, "t-deleted"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for deleted.Err() == nil || expiring.Err() == nil {
		select {
		case <-deadline:
			t.Fatalf("deleted: %v, expiring: %v; want both ended", deleted.Err(), expiring.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if kept.Err() != nil || untracked.Err() != nil {
		t.Error("a stream of a valid token was ended")
	}
	if n := s.Open("t-kept"); n != 2 {
		t.Errorf("t-kept has %d open streams, want 2", n)
	}
}

func TestStreamsRecheck(t *testing.T) {
	ctx := context.Background()
	s := NewStreams(nil, time.Hour, nil, slog.New(slog.DiscardHandler))
	open := func(tok string, o Owner) context.Context {
		c, cancel := context.WithCancelCause(ctx)
		s.track(tok, o, cancel)
		return c
	}
	aliceA := open("t-1", Owner{"u-alice", "c-a"})
	aliceA2 := open("t-2", Owner{"u-alice", "c-a"})
	aliceB := open("t-1", Owner{"u-alice", "c-b"})
	bobA := open("t-3", Owner{"u-bob", "c-a"})
	unsure := open("t-4", Owner{"u-carol", "c-a"})

	asked := map[Owner]int{}
	allowed := func(_ context.Context, o Owner) (bool, error) {
		asked[o]++
		switch o {
		case Owner{"u-alice", "c-a"}:
			return false, nil // alice's binding in c-a was removed
		case Owner{"u-carol", "c-a"}:
			return false, errors.New("database is locked")
		}
		return true, nil
	}
	if n := s.Recheck(ctx, allowed); n != 2 {
		t.Errorf("Recheck ended %d streams, want 2", n)
	}
	for name, c := range map[string]context.Context{"alice in c-a": aliceA, "alice in c-a, other token": aliceA2} {
		if !errors.Is(context.Cause(c), errAccessRemoved) {
			t.Errorf("%s: cause %v, want errAccessRemoved", name, context.Cause(c))
		}
	}
	for name, c := range map[string]context.Context{"alice in c-b": aliceB, "bob": bobA, "carol (unknown)": unsure} {
		if c.Err() != nil {
			t.Errorf("%s: ended (%v), want open", name, context.Cause(c))
		}
	}
	for o, n := range asked {
		if n != 1 {
			t.Errorf("%v asked %d times, want once per owner", o, n)
		}
	}
	if s.Open("t-1") != 1 || s.Open("t-2") != 0 {
		t.Errorf("open after recheck: t-1 %d (want 1), t-2 %d (want 0)", s.Open("t-1"), s.Open("t-2"))
	}
}
