package local

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/store"
)

// TestLocal runs against the real store (SQLite in a temporary directory).
func TestLocal(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "drover.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-password-1"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	alice := store.User{ID: "u-alice", Username: "alice", CreatedAt: time.Now().UTC()}
	if err := s.CreateUser(ctx, alice, hash); err != nil {
		t.Fatal(err)
	}
	dummy, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	p, err := New(s, Options{DummyHash: dummy})
	if err != nil {
		t.Fatal(err)
	}

	got, err := p.Login(ctx, "alice", "alice-password-1")
	if err != nil {
		t.Fatal(err)
	}
	want := providers.Principal{Provider: "local", ID: "u-alice", Username: "alice", DisplayName: "alice"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	if got, err := p.Refresh(ctx, got); err != nil || !cmp.Equal(want, got) {
		t.Errorf("refresh: %v, %v", got, err)
	}

	for _, tc := range []struct{ name, user, password, reason string }{
		{"wrong password", "alice", "alice-password-2", "wrong password"},
		{"unknown user", "bob", "alice-password-1", "no user"},
		{"empty password", "alice", "", "empty password"},
		{"control character", "alice\r", "alice-password-1", "control"},
	} {
		_, err := p.Login(ctx, tc.user, tc.password)
		if !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: got %v, want ErrInvalidCredentials (%s)", tc.name, err, tc.reason)
		}
	}
	if _, err := p.Refresh(ctx, providers.Principal{Provider: "local", ID: "u-gone"}); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("refresh of a missing user: got %v, want ErrInvalidCredentials", err)
	}
	if _, err := p.Refresh(ctx, providers.Principal{Provider: "ldap", ID: "u-alice"}); err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("refresh of another provider's principal: got %v, want a plain error", err)
	}

	// A store that fails is not the user's fault.
	s.Close()
	if _, err := p.Login(ctx, "alice", "alice-password-1"); err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("login with the store closed: got %v, want a plain error", err)
	}
}
