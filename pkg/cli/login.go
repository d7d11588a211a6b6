package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/drover-dev/drover/pkg/capin"
	"github.com/drover-dev/drover/pkg/checksum"
)

// LoginOptions are what a login needs besides the config.
type LoginOptions struct {
	Server     string // as given; normalised by Login
	CAChecksum string // required on the first login to a server
	Provider   string // "local" or the name of an LDAP provider
	Username   string
	Password   []byte
	// ConfirmCA, when set, lets a person trust a first server without
	// --ca-checksum: it is shown the checksum of the CA the server serves
	// and returns nil to trust it (an explicit confirmation, never a
	// silent trust on first use).
	ConfirmCA func(serverURL, sum string) error
	// Ask, when set and Password is nil, asks for the username and the
	// password once the server's CA is settled (a person confirms the CA
	// before typing a password for that server).
	Ask func() (username string, password []byte, err error)
	// Browser finishes a login at an OIDC or GitHub provider; nil: only
	// providers that take a password.
	Browser *BrowserLogin
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Provider string `json:"provider,omitempty"`
}

type sessionResponse struct {
	Token     string    `json:"token"`
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ErrNoPin refuses a first login without the server's CA checksum.
var ErrNoPin = errors.New("the first login to a server needs its CA checksum (--ca-checksum): " +
	"ask its administrator (it is the caChecksum the server prints and shows with each cluster's registration)")

// Login logs in to o.Server and records the session in c (the caller saves
// c). The server's CA is pinned by o.CAChecksum on the first login; later
// logins use the pinned CA, and a checksum given again must match it.
func Login(ctx context.Context, c *Config, o LoginOptions) (*Server, error) {
	key, caPEM, err := settleCA(ctx, c, o)
	if err != nil {
		return nil, err
	}
	if o.Provider != "" && o.Provider != "local" {
		redirect, err := isRedirectProvider(ctx, key, caPEM, o.Provider)
		switch {
		case err != nil:
			return nil, err
		case redirect && (o.Browser == nil || o.Password != nil):
			return nil, fmt.Errorf("auth provider %q logs in through a browser, not with a password: run drover login --provider %s on a terminal",
				o.Provider, o.Provider)
		case redirect:
			return loginBrowser(ctx, c, key, caPEM, o, *o.Browser)
		}
	}
	if o.Password == nil && o.Ask != nil {
		if o.Username, o.Password, err = o.Ask(); err != nil {
			return nil, err
		}
		defer clear(o.Password)
	}
	if !utf8.Valid(o.Password) || !utf8.ValidString(o.Username) {
		// JSON would send U+FFFD in place of each invalid byte: another
		// password than the one given.
		return nil, errors.New("the username and the password must be UTF-8")
	}
	client, err := NewClient(key, caPEM, "")
	if err != nil {
		return nil, err
	}
	var resp sessionResponse
	err = client.Do(ctx, http.MethodPost, "/v3/login",
		loginRequest{Username: o.Username, Password: string(o.Password), Provider: o.Provider}, &resp)
	if err != nil {
		return nil, fmt.Errorf("log in to %s: %w", key, err)
	}
	return c.adopt(ctx, key, caPEM, o.Provider, o.Username, resp)
}

// isRedirectProvider says whether the server's provider name logs in
// through a browser (OIDC, GitHub).
func isRedirectProvider(ctx context.Context, key string, caPEM []byte, name string) (bool, error) {
	client, err := NewClient(key, caPEM, "")
	if err != nil {
		return false, err
	}
	var list struct {
		Items []struct{ Name, Type string }
	}
	if err := client.Do(ctx, http.MethodGet, "/v3/login/providers", nil, &list); err != nil {
		return false, fmt.Errorf("the auth providers of %s: %w", key, err)
	}
	for _, p := range list.Items {
		if p.Name == name {
			return p.Type == "oidc" || p.Type == "github", nil
		}
	}
	return false, fmt.Errorf("%s has no auth provider %q (drover providers lists them)", key, Printable(name))
}

// settleCA returns the server's key and the CA to trust it with: pinned by
// o.CAChecksum on the first login (or confirmed by a person, o.ConfirmCA),
// the pinned one later; a checksum given again must match the pin.
func settleCA(ctx context.Context, c *Config, o LoginOptions) (string, []byte, error) {
	key, err := NormalizeURL(o.Server)
	if err != nil {
		return "", nil, err
	}
	known := c.Servers[key]
	var caPEM []byte
	switch {
	case o.CAChecksum != "":
		if caPEM, _, err = capin.Fetch(ctx, key, o.CAChecksum); err != nil {
			return "", nil, err
		}
		if known != nil && known.CA != "" && !bytes.Equal([]byte(known.CA), caPEM) {
			// The checksum matched what the server serves now, which is not
			// what was pinned: a CA rotation, or another server.
			return "", nil, fmt.Errorf("%w: %s serves a CA other than the one pinned at the first login (checksum %s); "+
				"if its administrator rotated it, remove the server with drover logout --forget and log in again",
				capin.ErrMismatch, key, checksum.Of([]byte(known.CA)))
		}
	case known != nil && known.CA != "":
		caPEM = []byte(known.CA)
	case o.ConfirmCA != nil:
		if caPEM, _, err = capin.FetchConfirmed(ctx, key, func(sum string) error { return o.ConfirmCA(key, sum) }); err != nil {
			return "", nil, err
		}
	default:
		return "", nil, ErrNoPin
	}
	return key, caPEM, nil
}

// adopt records a new login session of the server key in c, and ends the
// session it replaces.
func (c *Config) adopt(ctx context.Context, key string, caPEM []byte, provider, username string, resp sessionResponse) (*Server, error) {
	if resp.Token == "" {
		return nil, fmt.Errorf("log in to %s: the server answered no session", key)
	}
	s := &Server{URL: key, CA: string(caPEM), Provider: provider, Username: username,
		Session: resp.Token, SessionID: resp.ID, ExpiresAt: resp.ExpiresAt}
	if known := c.Servers[key]; known != nil && known.Session != "" {
		// The session this login replaces is ended, not left valid and
		// known to no one; if the server cannot be told, it expires.
		if old, err := NewClient(key, caPEM, known.Session); err == nil {
			old.Do(ctx, http.MethodPost, "/v3/logout", nil, nil)
		}
	}
	c.Servers[key] = s
	c.Current = key
	return s, nil
}

// Logout revokes s's session on its server and forgets it in c; forget
// also drops the server and its pinned CA. The session is forgotten even
// when the server cannot be told (the error says so): a session the server
// already ended (401) is no error.
func Logout(ctx context.Context, c *Config, s *Server, forget bool) error {
	var err error
	if s.Session != "" {
		client, cerr := NewClient(s.URL, []byte(s.CA), s.Session)
		if cerr == nil {
			cerr = client.Do(ctx, http.MethodPost, "/v3/logout", nil, nil)
		}
		if cerr != nil && !IsUnauthorized(cerr) {
			err = fmt.Errorf("the session was forgotten here, but %s could not be told to end it (it expires %s): %w",
				s.URL, s.ExpiresAt.Local().Format(time.RFC1123), cerr)
		}
	}
	s.Session, s.SessionID, s.ExpiresAt = "", "", time.Time{}
	if forget {
		delete(c.Servers, s.URL)
	}
	if c.Current == s.URL {
		// Another server with a session, if any, becomes the current one.
		c.Current = ""
		for _, key := range slices.Sorted(maps.Keys(c.Servers)) {
			if c.Servers[key].Session != "" {
				c.Current = key
				break
			}
		}
		if c.Current == "" && !forget {
			c.Current = s.URL // the next login needs no URL
		}
	}
	return err
}

// ReadPassword reads a password given on stdin (--password-stdin): all of
// it, less one trailing newline (\n or \r\n), like docker login.
func ReadPassword(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 64<<10 {
		return nil, errors.New("the password on stdin is over 64 KiB")
	}
	if t, ok := bytes.CutSuffix(b, []byte("\n")); ok {
		b = bytes.TrimSuffix(t, []byte("\r"))
	}
	if len(b) == 0 {
		return nil, errors.New("no password on stdin")
	}
	return b, nil
}

// ReadLine reads one line (a username typed at a prompt).
func ReadLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", err
	}
	return string(bytes.TrimRight([]byte(line), "\r\n")), nil
}
