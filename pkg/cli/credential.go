package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/token"
)

// Credential is a cluster token the credential plugin hands kubectl, as
// cached between kubectl invocations.
type Credential struct {
	Token     string `json:"token"`
	ID        string `json:"id"`
	SessionID string `json:"sessionId"`
	// CreatedAt and ExpiresAt are by the local clock (mintCredential).
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// RefreshAt is when a cached credential is replaced by a new one: a
// quarter of its life before it expires. kubectl is told it expires then,
// so every process that holds it stops using it before the server ends it
// (the server keeps the one before the newest for that reason).
func (c Credential) RefreshAt() time.Time {
	return c.ExpiresAt.Add(-c.ExpiresAt.Sub(c.CreatedAt) / 4)
}

// CredentialRequest names the credential the plugin wants.
type CredentialRequest struct {
	ClusterID string
	// AuthEndpoint asks for the token of the cluster's authorized
	// endpoint (the "-ace" context), which is handed out from the cache
	// while the server cannot be reached, until it expires.
	AuthEndpoint bool
	Now          func() time.Time
}

// ErrSessionEnded is a plugin asked for a credential of a session the
// server no longer accepts (expired, logged out or revoked).
var ErrSessionEnded = errors.New("the login session has ended")

// Offline says a credential came from the cache because the server could
// not be reached.
type Offline struct{ Err error }

// GetCredential returns a credential for req.ClusterID through s's login
// session: the cached one while it is fresh (RefreshAt), else a new one
// from the server, cached in dir for the next kubectl. Concurrent callers
// (several kubectl processes) take turns on a lock file, so they mint one
// token between them. For the authorized endpoint, a credential that is
// no longer fresh but not expired is handed out when the server cannot be
// reached (offline is then set).
func GetCredential(ctx context.Context, dir string, s *Server, req CredentialRequest) (c Credential, offline *Offline, err error) {
	if !ids.Cluster.Valid(req.ClusterID) {
		return Credential{}, nil, fmt.Errorf("%q is not a cluster id", req.ClusterID)
	}
	if req.Now == nil {
		req.Now = time.Now
	}
	path, err := credentialPath(dir, s.URL, req.ClusterID, req.AuthEndpoint)
	if err != nil {
		return Credential{}, nil, err
	}
	unlock, err := lockFile(ctx, path+".lock")
	if err != nil {
		return Credential{}, nil, err
	}
	defer unlock()
	cached, cerr := readCredential(path)
	now := req.Now()
	if cerr == nil && cached.SessionID == s.SessionID && now.Before(cached.RefreshAt()) {
		return cached, nil, nil
	}
	if s.Session == "" {
		return Credential{}, nil, ErrSessionEnded
	}
	fresh, err := mintCredential(ctx, s, req, now)
	switch {
	case err == nil:
		if werr := writeCredential(path, fresh); werr != nil {
			return Credential{}, nil, werr
		}
		return fresh, nil, nil
	case IsUnauthorized(err):
		os.Remove(path) // it ended with the session
		return Credential{}, nil, fmt.Errorf("%w: %v", ErrSessionEnded, err)
	}
	var api *APIError
	if req.AuthEndpoint && !errors.As(err, &api) && cerr == nil && cached.SessionID == s.SessionID && now.Before(cached.ExpiresAt) {
		return cached, &Offline{Err: err}, nil
	}
	return Credential{}, nil, err
}

// mintCredential asks the server for a new credential, asked for at now
// (the local clock). The server says how long the token lives (its
// expiresAt less its createdAt, never past the session's expiry); when it
// started is now: the local clock need not agree with the server's, and a
// credential is refreshed and handed out by the local clock (RefreshAt).
// A token that is not one of Drover's, or not the one the answer names, is
// refused: it would reach kubectl's Authorization header as it is.
func mintCredential(ctx context.Context, s *Server, req CredentialRequest, now time.Time) (Credential, error) {
	client, err := NewClient(s.URL, []byte(s.CA), s.Session)
	if err != nil {
		return Credential{}, err
	}
	var resp struct {
		Token     string    `json:"token"`
		ID        string    `json:"id"`
		CreatedAt time.Time `json:"createdAt"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	err = client.Do(ctx, http.MethodPost, "/v3/clusters/"+req.ClusterID+"/credentials",
		map[string]bool{"authEndpoint": req.AuthEndpoint}, &resp)
	if err != nil {
		return Credential{}, err
	}
	if tok, err := token.Parse(resp.Token); err != nil || tok.ID != resp.ID {
		return Credential{}, fmt.Errorf("%s answered a malformed credential for cluster %s", s.URL, req.ClusterID)
	}
	life := resp.ExpiresAt.Sub(resp.CreatedAt)
	if !s.ExpiresAt.IsZero() {
		life = min(life, s.ExpiresAt.Sub(resp.CreatedAt))
	}
	if life <= 0 {
		return Credential{}, fmt.Errorf("%s answered no usable credential for cluster %s", s.URL, req.ClusterID)
	}
	return Credential{Token: resp.Token, ID: resp.ID, SessionID: s.SessionID, CreatedAt: now, ExpiresAt: now.Add(life)}, nil
}

// credentialsDir holds the cached credentials, in dir.
const credentialsDir = "credentials"

// credentialPath is where a server's credential for a cluster is cached:
// named after a digest of the server's URL (no URL characters in a file
// name) and the cluster id (checked by the caller).
func credentialPath(dir, serverURL, clusterID string, ace bool) (string, error) {
	cdir := filepath.Join(dir, credentialsDir)
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		return "", err
	}
	if err := checkDir(cdir); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(serverURL))
	name := hex.EncodeToString(sum[:8]) + "-" + clusterID
	if ace {
		name += "-ace"
	}
	return filepath.Join(cdir, name+".json"), nil
}

// ForgetCredentials removes the credentials cached for a server (at
// logout: they ended with the session).
func ForgetCredentials(dir, serverURL string) error {
	sum := sha256.Sum256([]byte(serverURL))
	matches, err := filepath.Glob(filepath.Join(dir, credentialsDir, hex.EncodeToString(sum[:8])+"-*"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// lockFile takes an exclusive lock on path (made if needed), waiting at
// most until ctx ends; the returned function releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readCredential reads a cached credential, with the checks Load makes of
// the config: the user's own regular file, read by nobody else.
func readCredential(path string) (Credential, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return Credential{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Credential{}, err
	}
	if !fi.Mode().IsRegular() || !ownedByMe(fi) || fi.Mode().Perm()&0o077 != 0 {
		return Credential{}, fmt.Errorf("%s is not a private file of the user's", path)
	}
	var c Credential
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return Credential{}, err
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Token == "" {
		return Credential{}, fmt.Errorf("%s: not a cached credential", path)
	}
	return c, nil
}

// writeCredential caches c at path atomically, mode 0600.
func writeCredential(path string, c Credential) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
