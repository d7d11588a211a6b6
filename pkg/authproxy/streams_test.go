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
		s.track(id, cancel)
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
	if err := st.DeleteToken(ctx, "t-deleted"); err != nil {
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
