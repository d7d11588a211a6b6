package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/drover-dev/drover/pkg/api"
	"github.com/drover-dev/drover/pkg/providers/local"
	"github.com/drover-dev/drover/pkg/store"
)

// storeFile is the SQLite store inside the data directory.
const storeFile = "drover.db"

// bootstrapAdmin creates the first admin on an empty store. Its password is
// cfg.BootstrapPasswordFile's, and then nothing about it is printed; or a
// random one, printed once, to the operator's terminal only.
func bootstrapAdmin(ctx context.Context, st *store.Store, localUsers *local.Provider, cfg Config) error {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		if cfg.BootstrapPasswordFile != "" {
			cfg.Logger.Info("the store has users: --bootstrap-password-file is not read (it only sets the first admin's password)")
		}
		return nil
	}
	password, fromFile := "", cfg.BootstrapPasswordFile != ""
	if fromFile {
		if password, err = readPasswordFile(cfg.BootstrapPasswordFile); err != nil {
			return fmt.Errorf("bootstrap password: %w", err)
		}
	} else if password, err = api.RandomPassword(); err != nil {
		return err
	}
	if _, err := localUsers.CreateUser(ctx, local.NewUser{Username: cfg.AdminUsername, Password: password, Admin: true}); errors.Is(err, store.ErrConflict) {
		// Server replicas started together on one empty database: another
		// one made the admin first, and printed its password.
		cfg.Logger.Info("the bootstrap admin was created by another server replica", "user", cfg.AdminUsername)
		return nil
	} else if err != nil {
		return fmt.Errorf("create bootstrap admin: %w", err)
	}
	if fromFile {
		cfg.Logger.Info("bootstrap admin created with the password of --bootstrap-password-file", "user", cfg.AdminUsername)
		return nil
	}
	cfg.Logger.Info("bootstrap admin created; its password was printed to the terminal once", "user", cfg.AdminUsername)
	fmt.Fprintf(cfg.Stdout, "\n  Drover admin login (shown once, never again):\n    username: %s\n    password: %s\n\n",
		cfg.AdminUsername, password)
	return nil
}

// readPasswordFile is local.ReadPassword of a file.
func readPasswordFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return local.ReadPassword(f)
}

// ResetOptions say whose password ResetAdminPassword resets, and to what.
type ResetOptions struct {
	// DataDir is the server's --data-dir; it must hold a store.
	DataDir string
	// Username is the admin's (a local user and a global admin).
	Username string
	// Password is the new password; it must pass local.CheckNewPassword.
	Password string
	// RevokeTokens also deletes the admin's API and kubeconfig tokens
	// (login sessions always end).
	RevokeTokens bool
	// Logger receives what the store or the lock has to say; nil: none.
	Logger *slog.Logger
	// Cost is the bcrypt cost of the new hash (0: the server's, package
	// local's default); tests use bcrypt.MinCost.
	Cost int
	// Now stamps nothing yet; default time.Now.
	Now func() time.Time
}

// ResetResult is what ResetAdminPassword did.
type ResetResult struct {
	User store.User
	// Ended is how many of the user's tokens were deleted: its login
	// sessions, and with RevokeTokens every other token too.
	Ended int
	// Enabled is true when the admin was disabled and is enabled again.
	Enabled bool
}

// ResetAdminPassword sets a local admin's password offline, on the data
// directory of a server that is not running (it takes the directory's lock,
// so a running server makes it fail with ErrDataDirInUse and change
// nothing). It ends the admin's login sessions (with RevokeTokens, every
// token of the admin) and enables a disabled admin: it is how a lost or
// locked-out admin account is recovered. It refuses a user that is not a
// local global admin, and never creates a store or a user.
func ResetAdminPassword(ctx context.Context, opts ResetOptions) (ResetResult, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	path, unlock, err := lockStoppedStore(opts.DataDir, opts.Logger, "")
	if err != nil {
		return ResetResult{}, err
	}
	defer unlock()
	st, err := store.Open(ctx, path)
	if err != nil {
		return ResetResult{}, err
	}
	defer st.Close()
	lp, err := local.New(st, local.Options{Cost: opts.Cost, Now: opts.Now})
	if err != nil {
		return ResetResult{}, err
	}
	hash, err := lp.Hash(opts.Password)
	if err != nil {
		return ResetResult{}, err
	}
	u, _, err := st.UserByUsername(ctx, opts.Username) // local users only
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ResetResult{}, fmt.Errorf("no user %q in %s", opts.Username, opts.DataDir)
	case err != nil:
		return ResetResult{}, err
	case !u.Admin:
		return ResetResult{}, fmt.Errorf("user %q is not a global admin: log in as an admin and PUT /v3/users/%s {\"password\": …}", u.Username, u.ID)
	}
	change := store.UserChange{PasswordHash: hash, RevokeTokens: opts.RevokeTokens}
	res := ResetResult{Enabled: u.Disabled}
	if u.Disabled {
		enabled := false
		change.Disabled = &enabled
	}
	ended, err := st.UpdateUser(ctx, u.ID, change)
	if err != nil {
		return ResetResult{}, err
	}
	res.Ended = len(ended)
	if res.User, err = st.UserByID(ctx, u.ID); err != nil {
		return ResetResult{}, err
	}
	return res, nil
}
