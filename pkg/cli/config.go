package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drover-dev/drover/pkg/capin"
)

// fileName is the config file in Dir.
const fileName = "config.json"

// Config is what the drover command keeps between runs.
type Config struct {
	// Current is the URL of the server commands use without --server.
	Current string `json:"current,omitempty"`
	// Servers are keyed by their normalised URL (NormalizeURL).
	Servers map[string]*Server `json:"servers,omitempty"`
}

// Server is one Drover server the user logged in to.
type Server struct {
	URL string `json:"url"`
	// CA is the server's CA bundle (PEM), pinned on first login.
	CA       string `json:"ca"`
	Provider string `json:"provider,omitempty"`
	Username string `json:"username,omitempty"`
	// Session is the login session's token; SessionID names it (for
	// messages; never the token itself).
	Session   string    `json:"session,omitempty"`
	SessionID string    `json:"sessionId,omitempty"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Dir is where the config lives: override if set, else drover under the
// user's config directory ($XDG_CONFIG_HOME, or ~/.config).
func Dir(override string) (string, error) {
	if override != "" {
		return filepath.Abs(override)
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory (set $XDG_CONFIG_HOME or --config-dir): %w", err)
	}
	return filepath.Join(base, "drover"), nil
}

// Load reads the config in dir; a missing file is an empty config. The
// file holds login sessions and pinned CAs, so Load refuses one that
// another user could have written or can read: a file that is not a
// regular file of the current user's (a symbolic link is not followed),
// that others may read, or in a directory of another user's or that others
// may write. It checks the very file it reads (opened first, then checked).
func Load(dir string) (*Config, error) {
	if err := checkDir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &Config{Servers: map[string]*Server{}}, nil
		}
		return nil, err
	}
	path := filepath.Join(dir, fileName)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{Servers: map[string]*Server{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (a symbolic link is not followed)", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", path)
	case !ownedByMe(fi):
		return nil, fmt.Errorf("%s belongs to another user: remove it and log in again", path)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%s may be read by others (mode %04o) and holds login sessions: run chmod 600 %s, or log in again after removing it",
			path, fi.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfig {
		return nil, fmt.Errorf("%s is over %d bytes", path, maxConfig)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Servers == nil {
		c.Servers = map[string]*Server{}
	}
	return &c, nil
}

// maxConfig bounds the config file.
const maxConfig = 16 << 20

// checkDir refuses a config directory another user could change: not a
// directory of the current user's, or one others may write.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case !ownedByMe(fi):
		return fmt.Errorf("%s belongs to another user", dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s may be written by others (mode %04o): run chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// ownedByMe says whether fi belongs to the current user.
func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// Save writes the config to dir atomically, mode 0600 in a 0700 directory.
func (c *Config) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() && ownedByMe(fi) && fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	if err := checkDir(dir); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, fileName+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, fileName))
}

// Lookup returns the server named by serverURL, or the current one when it
// is empty, with a login session.
func (c *Config) Lookup(serverURL string) (*Server, error) {
	s, err := c.Find(serverURL)
	if err != nil {
		return nil, err
	}
	if s.Session == "" {
		return nil, fmt.Errorf("not logged in to %s: run drover login %s", s.URL, s.URL)
	}
	return s, nil
}

// Find returns the server named by serverURL, or the current one when it
// is empty, logged in or not.
func (c *Config) Find(serverURL string) (*Server, error) {
	if serverURL == "" {
		if c.Current == "" {
			return nil, errors.New("not logged in to any server: run drover login <server URL>")
		}
		serverURL = c.Current
	}
	key, err := NormalizeURL(serverURL)
	if err != nil {
		return nil, err
	}
	s := c.Servers[key]
	if s == nil {
		return nil, fmt.Errorf("not logged in to %s: run drover login %s", key, key)
	}
	return s, nil
}

// NormalizeURL is the form a server URL is kept and compared in, so that
// one server has one entry however it is spelt: https://host[:port], the
// host in lower case without a trailing dot, an IP address in its canonical
// form, the port as a number and left out when it is 443, no path, no
// trailing slash. A scheme-less host:port gets https; anything else (http,
// a path, userinfo, a query, an escape in the host) is refused.
func NormalizeURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "https":
		return "", fmt.Errorf("server URL %q: only https is supported", raw)
	case strings.Contains(u.Host, "%"):
		return "", fmt.Errorf("server URL %q: an escape or a zone in the host is not supported", raw)
	case u.User != nil, u.RawQuery != "", u.Fragment != "", u.ForceQuery:
		return "", fmt.Errorf("server URL %q: only scheme, host and port are allowed", raw)
	case u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("server URL %q: a Drover server is addressed without a path", raw)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", fmt.Errorf("server URL %q has no host", raw)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	} else if !validHostName(host) {
		return "", fmt.Errorf("server URL %q: %q is neither a host name nor an IP address", raw, host)
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return "", fmt.Errorf("server URL %q: the port must be 1-65535", raw)
		}
		port = strconv.FormatUint(n, 10)
	}
	if port == "" || port == "443" {
		if strings.Contains(host, ":") {
			return "https://[" + host + "]", nil
		}
		return "https://" + host, nil
	}
	return "https://" + net.JoinHostPort(host, port), nil
}

// validHostName reports whether host is a DNS name: labels of letters,
// digits, '-' and '_', none empty, none over 63 bytes, 253 bytes in all.
func validHostName(host string) bool {
	if len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// FollowCA fetches the server's CA again, pinned by s.CA (capin.FetchPinned),
// and stores in s what to trust when a CA rotation changed it: the next CA
// while a rotation is prepared, the new one alone once it is finished. It
// says whether s changed; the caller saves the configuration. A server out
// of reach, or whose CA the pin does not prove, leaves s as it is: the
// request that follows, verified against the pin, says why.
func FollowCA(ctx context.Context, s *Server) (bool, error) {
	if s.CA == "" {
		return false, nil
	}
	trust, _, err := capin.FetchPinned(ctx, s.URL, []byte(s.CA))
	if err != nil || string(trust) == s.CA {
		// The request that follows is verified against the pin as it
		// is, and fails if the server's CA is not one of it.
		return false, nil
	}
	s.CA = string(trust)
	return true, nil
}
