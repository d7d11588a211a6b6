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

var created = time.Date(2030, 4, 5, 6, 7, 8, 0, time.UTC)

// newProvider runs against the real store (SQLite in a temporary
// directory), at bcrypt's minimum cost.
func newProvider(t *testing.T) (*Provider, *store.Store) {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "drover.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p, err := New(s, Options{Cost: bcrypt.MinCost, Now: func() time.Time { return created }})
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

func TestLogin(t *testing.T) {
	ctx := context.Background()
	p, s := newProvider(t)
	alice, err := p.CreateUser(ctx, NewUser{Username: "alice", Password: "alice-password-1", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	carol, err := p.CreateUser(ctx, NewUser{Username: "carol", Password: "carol-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	disabled := true
	if _, err := s.UpdateUser(ctx, carol.ID, store.UserChange{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}

	got, err := p.Authenticate(ctx, "alice", "alice-password-1")
	if err != nil {
		t.Fatal(err)
	}
	wantUser := store.User{ID: alice.ID, Username: "alice", Admin: true, CreatedAt: created, Provider: store.LocalProvider}
	if diff := cmp.Diff(wantUser, got); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}
	pr, err := p.Login(ctx, "alice", "alice-password-1")
	if err != nil {
		t.Fatal(err)
	}
	want := providers.Principal{Provider: "local", ID: alice.ID, Username: "alice", DisplayName: "alice"}
	if diff := cmp.Diff(want, pr); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	if got, err := p.Refresh(ctx, pr); err != nil || !cmp.Equal(want, got) {
		t.Errorf("refresh: %v, %v", got, err)
	}

	for _, tc := range []struct{ name, user, password, reason string }{
		{"wrong password", "alice", "alice-password-2", "wrong password"},
		{"unknown user", "bob", "alice-password-1", "no user"},
		{"empty password", "alice", "", "empty password"},
		{"control character", "alice\r", "alice-password-1", "control"},
		{"disabled user, right password", "carol", "carol-password-1", "disabled"},
		{"name of another case", "Alice", "alice-password-1", "no user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Login(ctx, tc.user, tc.password)
			if !errors.Is(err, providers.ErrInvalidCredentials) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("got %v, want ErrInvalidCredentials (%s)", err, tc.reason)
			}
			if err != nil && strings.Contains(err.Error(), tc.password) && tc.password != "" {
				t.Errorf("the error carries the password: %v", err)
			}
		})
	}
	if _, err := p.Refresh(ctx, providers.Principal{Provider: "local", ID: "u-gone"}); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("refresh of a missing user: got %v, want ErrInvalidCredentials", err)
	}
	if _, err := p.Refresh(ctx, providers.Principal{Provider: "ldap", ID: alice.ID}); err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("refresh of another provider's principal: got %v, want a plain error", err)
	}

	// A store that fails is not the user's fault.
	s.Close()
	if _, err := p.Login(ctx, "alice", "alice-password-1"); err == nil || errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("login with the store closed: got %v, want a plain error", err)
	}
}

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	p, _ := newProvider(t)
	if _, err := p.CreateUser(ctx, NewUser{Username: "taken", Password: "a-long-enough-password"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		user    NewUser
		wantErr error
		msg     string
	}{
		{"ok", NewUser{Username: "dave.o@example", Password: "a-long-enough-password"}, nil, ""},
		{"upper case", NewUser{Username: "Dave", Password: "a-long-enough-password"}, ErrInvalid, "username must be"},
		{"system name", NewUser{Username: "system:admin", Password: "a-long-enough-password"}, ErrInvalid, "username must be"},
		{"empty username", NewUser{Password: "a-long-enough-password"}, ErrInvalid, "username must be"},
		{"short password", NewUser{Username: "erin", Password: "eleven-char"}, ErrInvalid, "password must be 12 to 72 bytes"},
		{"long password", NewUser{Username: "erin", Password: strings.Repeat("x", 73)}, ErrInvalid, "password must be 12 to 72 bytes"},
		{"taken", NewUser{Username: "taken", Password: "a-long-enough-password"}, store.ErrConflict, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := p.CreateUser(ctx, tc.user)
			if !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err != nil {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q does not say %q", err, tc.msg)
				}
				return
			}
			if _, err := p.Authenticate(ctx, tc.user.Username, tc.user.Password); err != nil {
				t.Errorf("the new user cannot log in: %v", err)
			}
			if !strings.HasPrefix(u.ID, "u-") {
				t.Errorf("id %q", u.ID)
			}
		})
	}
}

// The cost option sets the cost of new hashes and of the dummy hash, which
// each Provider makes for itself.
func TestCost(t *testing.T) {
	p, _ := newProvider(t)
	h, err := p.Hash("a-long-enough-password")
	if err != nil {
		t.Fatal(err)
	}
	q, err := New(nil, Options{Cost: bcrypt.MinCost + 1})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for name, hash := range map[string][]byte{"hash": h, "dummy": p.dummyHash, "other dummy": q.dummyHash} {
		if got[name], err = bcrypt.Cost(hash); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"hash": bcrypt.MinCost, "dummy": bcrypt.MinCost, "other dummy": bcrypt.MinCost + 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("costs (-want +got):\n%s", diff)
	}
	if _, err := p.Hash("short"); !errors.Is(err, ErrInvalid) {
		t.Errorf("short password hashed: %v", err)
	}
	for _, cost := range []int{bcrypt.MinCost - 1, bcrypt.MaxCost + 1} {
		if _, err := New(nil, Options{Cost: cost}); err == nil {
			t.Errorf("cost %d accepted", cost)
		}
	}
	// Production's default.
	if def, err := New(nil, Options{}); err != nil || def.opts.Cost != bcrypt.DefaultCost {
		t.Errorf("default cost: %v", err)
	}
}

func TestReadPassword(t *testing.T) {
	long := strings.Repeat("x", MaxPassword)
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "as printf writes it", in: "a-long-enough-password", want: "a-long-enough-password"},
		{name: "one newline trimmed", in: "a-long-enough-password\n", want: "a-long-enough-password"},
		{name: "a CRLF trimmed", in: "a-long-enough-password\r\n", want: "a-long-enough-password"},
		{name: "only one newline", in: "a-long-enough-password\n\n", want: "a-long-enough-password\n"},
		{name: "spaces kept", in: " a-long-enough-password \n", want: " a-long-enough-password "},
		{name: "a lone CR kept", in: "a-long-enough-password\r", want: "a-long-enough-password\r"},
		{name: "the longest", in: long + "\n", want: long},
		{name: "too long", in: long + "y\n", wantErr: "invalid: password must be 12 to 72 bytes"},
		{name: "far too long", in: strings.Repeat("z", 10000), wantErr: "invalid: password must be 12 to 72 bytes"},
		{name: "too short", in: "short\n", wantErr: "invalid: password must be 12 to 72 bytes"},
		{name: "empty", in: "", wantErr: "invalid: password must be 12 to 72 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadPassword(strings.NewReader(tc.in))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v is not ErrInvalid", err)
				}
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("password (-want +got):\n%s", diff)
			}
		})
	}
}
