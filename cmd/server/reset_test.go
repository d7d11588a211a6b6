package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/store"
)

// TestResetFrom resets the password read from standard input on a real
// store and reports what it did, never the password.
func TestResetFrom(t *testing.T) {
	tests := []struct {
		name       string
		stdin      string
		revoke     bool
		wantStdout string
		wantErr    string
		wantLogin  string
	}{
		{name: "as printf | writes it", stdin: "the-new-password\n", wantLogin: "the-new-password",
			wantStdout: "The password of admin \"admin\" is reset; 0 of its login sessions ended.\n"},
		{name: "revoking the tokens", stdin: "the-new-password", revoke: true, wantLogin: "the-new-password",
			wantStdout: "The password of admin \"admin\" is reset; 0 of its tokens (login sessions, API and kubeconfig tokens) ended.\n"},
		{name: "too short", stdin: "short\n", wantLogin: "the-old-password",
			wantErr: "the password from standard input: invalid: password must be 12 to 72 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			st, err := store.Open(ctx, filepath.Join(dir, "drover.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			lp, err := local.New(st, local.Options{Cost: bcrypt.MinCost})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lp.CreateUser(ctx, local.NewUser{Username: "admin", Password: "the-old-password", Admin: true}); err != nil {
				t.Fatal(err)
			}
			var stdout bytes.Buffer
			o := &ResetOptions{DataDir: dir, Username: "admin", PasswordStdin: true, RevokeTokens: tc.revoke, cost: bcrypt.MinCost}
			err = resetFrom(ctx, o, strings.NewReader(tc.stdin), &stdout)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStdout, stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if _, err := lp.Authenticate(ctx, "admin", tc.wantLogin); err != nil {
				t.Errorf("login with %q: %v", tc.wantLogin, err)
			}
		})
	}
}
