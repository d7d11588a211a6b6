package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/store"
)

// ErrInvalid wraps what is wrong with a new username or password; the
// rest of the message is safe to show to whoever sent it.
var ErrInvalid = errors.New("invalid")

// usernameRE keeps names safe as Impersonate-User values and away from
// Kubernetes' reserved "system:" space.
var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,62}$`)

// Password length limits: bcrypt reads at most 72 bytes.
const (
	MinPassword = 12
	MaxPassword = 72
)

// CheckNewPassword refuses a password a user may not set. The error wraps
// ErrInvalid and never contains the password.
func CheckNewPassword(password string) error {
	if len(password) < MinPassword || len(password) > MaxPassword {
		return fmt.Errorf("%w: password must be %d to %d bytes", ErrInvalid, MinPassword, MaxPassword)
	}
	return nil
}

// ReadPassword reads a new password from r (a file, standard input): what
// r holds, less one trailing newline ("\n" or "\r\n"), checked with
// CheckNewPassword. It reads at most a few bytes past MaxPassword. Its
// errors never contain the password.
func ReadPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxPassword+3))
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	password := string(b)
	if p, ok := strings.CutSuffix(password, "\n"); ok {
		password = strings.TrimSuffix(p, "\r")
	}
	if err := CheckNewPassword(password); err != nil {
		return "", err
	}
	return password, nil
}

// Hash checks password with CheckNewPassword and returns its bcrypt hash
// at the provider's cost.
func (p *Provider) Hash(password string) ([]byte, error) {
	if err := CheckNewPassword(password); err != nil {
		return nil, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.opts.Cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// NewUser is a local user to create.
type NewUser struct {
	Username, Password string
	Admin              bool
}

// CreateUser validates and stores a local user. A bad username or
// password is ErrInvalid; a taken username is the store's ErrConflict.
func (p *Provider) CreateUser(ctx context.Context, nu NewUser) (store.User, error) {
	if !usernameRE.MatchString(nu.Username) {
		return store.User{}, fmt.Errorf("%w: username must be 1-63 of a-z 0-9 . _ @ -, starting with a letter or digit", ErrInvalid)
	}
	hash, err := p.Hash(nu.Password)
	if err != nil {
		return store.User{}, err
	}
	id, err := ids.User.New()
	if err != nil {
		return store.User{}, err
	}
	u := store.User{ID: id, Username: nu.Username, Admin: nu.Admin, CreatedAt: p.opts.Now().UTC(), Provider: store.LocalProvider}
	if err := p.users.CreateUser(ctx, u, hash); err != nil {
		return store.User{}, err
	}
	return u, nil
}
