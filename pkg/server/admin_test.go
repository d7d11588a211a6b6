package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/store"
)

const filePassword = "from-the-secret-file"

func TestBootstrapAdminFromFile(t *testing.T) {
	tests := []struct {
		name      string
		file      string // content; "-" for no file at all
		existing  bool   // the store already has a user
		wantErr   string
		wantLogin string // the password the admin logs in with
	}{
		{name: "a Secret's file, with a newline", file: filePassword + "\n", wantLogin: filePassword},
		{name: "without a newline", file: filePassword, wantLogin: filePassword},
		{name: "too short", file: "short\n", wantErr: "bootstrap password: invalid: password must be 12 to 72 bytes"},
		{name: "missing", file: "-", wantErr: "bootstrap password: open "},
		{name: "not read once users exist", file: "-", existing: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			st, err := store.Open(ctx, filepath.Join(dir, storeFile))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			lp, err := local.New(st, local.Options{Cost: bcrypt.MinCost})
			if err != nil {
				t.Fatal(err)
			}
			if tc.existing {
				if _, err := lp.CreateUser(ctx, local.NewUser{Username: "someone", Password: "a-long-enough-password"}); err != nil {
					t.Fatal(err)
				}
			}
			file := filepath.Join(dir, "bootstrap-password")
			if tc.file != "-" {
				if err := os.WriteFile(file, []byte(tc.file), 0o400); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, logs bytes.Buffer
			err = bootstrapAdmin(ctx, st, lp, Config{AdminUsername: "admin", BootstrapPasswordFile: file,
				Stdout: &stdout, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if tc.wantErr == "" && gotErr != "" || !strings.HasPrefix(gotErr, tc.wantErr) {
				t.Fatalf("bootstrapAdmin = %q, want %q", gotErr, tc.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed: %q", stdout.String())
			}
			for _, secret := range []string{filePassword, "short"} {
				if strings.Contains(logs.String(), secret) || strings.Contains(gotErr, secret) {
					t.Errorf("the password reached the log or the error: %q %q", logs.String(), gotErr)
				}
			}
			_, loginErr := lp.Authenticate(ctx, "admin", tc.wantLogin)
			switch {
			case tc.wantLogin != "" && loginErr != nil:
				t.Errorf("admin login with the file's password: %v", loginErr)
			case tc.wantLogin == "" && !errors.Is(loginErr, providers.ErrInvalidCredentials) && !errors.Is(loginErr, local.ErrInvalid):
				t.Errorf("an admin exists: %v", loginErr)
			}
		})
	}
}

// resetFixture is a data directory with a store holding admin (two
// sessions, an API token), bob (no admin) and carol (a disabled admin).
func resetFixture(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lp, err := local.New(st, local.Options{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []local.NewUser{{Username: "admin", Password: "the-old-password", Admin: true},
		{Username: "bob", Password: "bobs-old-password"}, {Username: "carol", Password: "carols-old-password", Admin: true}} {
		created, err := lp.CreateUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for i, kind := range []string{store.KindSession, store.KindSession, store.KindAPI} {
			tok := store.Token{ID: created.Username + "-" + kind + string(rune('0'+i)), UserID: created.ID, Kind: kind,
				CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
			tok.Hashed.Salt, tok.Hashed.Hash = []byte("s"), []byte("h")
			if err := st.CreateToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		if u.Username == "carol" {
			if _, err := st.SetUserDisabled(ctx, created.ID, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestResetAdminPassword(t *testing.T) {
	const newPassword = "the-new-password-1"
	tests := []struct {
		name       string
		opts       ResetOptions
		noStore    bool
		locked     bool
		wantErr    string
		wantEnded  int
		wantEnable bool
		wantTokens []string // left to the user
	}{
		{name: "ends the sessions", opts: ResetOptions{Username: "admin", Password: newPassword},
			wantEnded: 2, wantTokens: []string{"admin-api2"}},
		{name: "and the tokens when asked", opts: ResetOptions{Username: "admin", Password: newPassword, RevokeTokens: true},
			wantEnded: 3, wantTokens: []string{}},
		{name: "enables a disabled admin", opts: ResetOptions{Username: "carol", Password: newPassword},
			wantEnable: true, wantTokens: []string{}},
		{name: "not an admin", opts: ResetOptions{Username: "bob", Password: newPassword},
			wantErr: `user "bob" is not a global admin`},
		{name: "no such user", opts: ResetOptions{Username: "root", Password: newPassword}, wantErr: `no user "root" in `},
		{name: "a password the policy refuses", opts: ResetOptions{Username: "admin", Password: "short"},
			wantErr: "invalid: password must be 12 to 72 bytes"},
		{name: "not a data directory", noStore: true, opts: ResetOptions{Username: "admin", Password: newPassword},
			wantErr: "no Drover store in "},
		{name: "a server holds the directory", locked: true, opts: ResetOptions{Username: "admin", Password: newPassword},
			wantErr: "data directory in use: process "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			if !tc.noStore {
				dir = resetFixture(t)
			}
			if tc.locked {
				unlock, err := lockDataDir(dir, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
			}
			opts := tc.opts
			opts.DataDir, opts.Cost = dir, bcrypt.MinCost
			res, err := ResetAdminPassword(ctx, opts)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if tc.wantErr == "" && gotErr != "" || !strings.HasPrefix(gotErr, tc.wantErr) {
				t.Fatalf("ResetAdminPassword = %q, want %q", gotErr, tc.wantErr)
			}
			if strings.Contains(gotErr, newPassword) {
				t.Errorf("the error names the password: %q", gotErr)
			}
			if tc.noStore {
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("made files in a directory without a store: %v", entries)
				}
				return
			}
			st, err := store.Open(ctx, filepath.Join(dir, storeFile))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			lp, err := local.New(st, local.Options{Cost: bcrypt.MinCost})
			if err != nil {
				t.Fatal(err)
			}
			_, newErr := lp.Authenticate(ctx, opts.Username, newPassword)
			if tc.wantErr != "" {
				if newErr == nil {
					t.Errorf("the password changed although the reset failed")
				}
				if tc.opts.Username == "admin" {
					if _, err := lp.Authenticate(ctx, "admin", "the-old-password"); err != nil {
						t.Errorf("the old password stopped working: %v", err)
					}
					u, _, _ := st.UserByUsername(ctx, "admin")
					if toks, _ := st.ListTokens(ctx, u.ID); len(toks) != 3 {
						t.Errorf("the admin's tokens changed although the reset failed: %v", toks)
					}
				}
				return
			}
			if newErr != nil {
				t.Errorf("login with the new password: %v", newErr)
			}
			if res.Ended != tc.wantEnded {
				t.Errorf("ended %d tokens, want %d", res.Ended, tc.wantEnded)
			}
			if res.Enabled != tc.wantEnable || res.User.Disabled {
				t.Errorf("enabled %v (user disabled: %v), want %v", res.Enabled, res.User.Disabled, tc.wantEnable)
			}
			toks, err := st.ListTokens(ctx, res.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, tok := range toks {
				got = append(got, tok.ID)
			}
			if diff := cmp.Diff(tc.wantTokens, got); diff != "" {
				t.Errorf("tokens left (-want +got):\n%s", diff)
			}
		})
	}
}
