package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/store"
)

type brokenStore struct{}

func (brokenStore) RateLimit(context.Context, []byte, int, time.Duration) (bool, time.Duration, error) {
	return false, 0, errors.New("database down")
}

// TestShared: two replicas' limits of one name count together; limits of
// other names apart; a store that cannot answer refuses.
func TestShared(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	a, b := NewShared(st, "login-user", 2, time.Minute, log), NewShared(st, "login-user", 2, time.Minute, log)
	other := NewShared(st, "login-address", 2, time.Minute, log)
	for i, l := range []*Shared{a, b} {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("event %d refused", i+1)
		}
	}
	if ok, wait := a.Allow("alice"); ok || wait <= 0 {
		t.Errorf("the third event across replicas: %v, wait %v", ok, wait)
	}
	if ok, _ := other.Allow("alice"); !ok {
		t.Error("another limit's key counted with this one")
	}
	if ok, wait := NewShared(brokenStore{}, "x", 2, time.Minute, log).Allow("alice"); ok || wait <= 0 {
		t.Errorf("a store that cannot answer: %v, %v", ok, wait)
	}
}
