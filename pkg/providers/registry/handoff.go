package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
)

// CLILogin is a redirect login begun by the drover command on a person's
// machine. The identity provider sends the browser back to Drover's own
// callback, as for any login; Drover then hands the login off to the
// command, never a session to the browser: it sends the browser to
// Redirect (a loopback address the command listens on) with a one-time
// code, or shows the code for the person to paste (Redirect PasteCode).
// The code is worth a session only with the PKCE verifier whose S256
// digest is Challenge, which never left the command (Redeem).
type CLILogin struct {
	Redirect  string `json:"r"`
	Challenge string `json:"h"`
}

// PasteCode is the Redirect of a login whose code the person copies from
// the browser to the command (a machine without a browser).
const PasteCode = "paste"

// ErrCLILogin: a CLILogin that cannot be honoured; its text says why.
var ErrCLILogin = errors.New("invalid drover command login")

// CheckCLILogin is the one owner of what a CLILogin may be: Redirect is
// PasteCode or http://127.0.0.1:<port>/<path> or http://[::1]:<port>/<path>
// (no other host, no userinfo, query or fragment), and Challenge a
// base64url S256 digest (43 characters).
func CheckCLILogin(c CLILogin) error {
	if b, err := base64.RawURLEncoding.DecodeString(c.Challenge); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("%w: codeChallenge must be the base64url SHA-256 of the verifier (43 characters)", ErrCLILogin)
	}
	if c.Redirect == PasteCode {
		return nil
	}
	u, err := url.Parse(c.Redirect)
	if err != nil || len(c.Redirect) > 256 {
		return fmt.Errorf("%w: cliRedirect is not a URL", ErrCLILogin)
	}
	host, port, err := net.SplitHostPort(u.Host)
	n, perr := strconv.Atoi(port)
	switch {
	case u.Scheme != "http" || err != nil || (host != "127.0.0.1" && host != "::1"):
		return fmt.Errorf("%w: cliRedirect must be http://127.0.0.1:<port>/<path> or http://[::1]:<port>/<path>", ErrCLILogin)
	case perr != nil || n < 1 || n > 65535:
		return fmt.Errorf("%w: cliRedirect needs a port", ErrCLILogin)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return fmt.Errorf("%w: cliRedirect may carry no userinfo, query or fragment", ErrCLILogin)
	}
	return nil
}

// Start returns where to send the browser of a login begun by the drover
// command: the identity provider's URL kept in its claim. The browser then
// carries the claim (Drover sets it as a cookie on the way).
func (r *Registry) Start(name, sealedClaim string) (string, error) {
	c, err := r.openClaim(name, sealedClaim)
	switch {
	case err != nil:
		return "", providers.InvalidCredentials("start of a login at %q: %v", name, err)
	case c.CLI == nil || c.AuthURL == "":
		return "", providers.InvalidCredentials("start of a login at %q: not begun by the drover command", name)
	case !r.opts.Now().Before(c.Expires):
		return "", providers.InvalidCredentials("start of a login at %q: expired", name)
	}
	return c.AuthURL, nil
}

// handOff is a finished login waiting for the drover command, sealed into
// its one-time code.
type handOff struct {
	UserID    string    `json:"u"`
	Challenge string    `json:"h"`
	Expires   time.Time `json:"e"`
	Nonce     []byte    `json:"n"`
}

// handOffPurpose binds a sealed code to its use.
const handOffPurpose = "drover/login-handoff"

// handOffTTL is how long a code may take from the browser to the command.
const handOffTTL = 2 * time.Minute

// HandOff returns the one-time code of userID's finished login for the
// drover command that began it.
func (r *Registry) HandOff(userID string, cli CLILogin) (string, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	plain, err := json.Marshal(handOff{UserID: userID, Challenge: cli.Challenge,
		Expires: r.opts.Now().Add(handOffTTL).UTC(), Nonce: nonce})
	if err != nil {
		return "", err
	}
	sealed, err := r.opts.Sealer.Seal(plain, handOffPurpose)
	if err != nil {
		return "", fmt.Errorf("seal the login code: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Redeem returns the user of a one-time code when verifier is the one whose
// digest the login was begun with; a code is good once, within handOffTTL.
// Every refusal wraps providers.ErrInvalidCredentials.
func (r *Registry) Redeem(code, verifier string) (string, error) {
	if code == "" || len(code) > maxClaim || verifier == "" || len(verifier) > 128 {
		return "", providers.InvalidCredentials("login code or verifier missing or too long")
	}
	blob, err := base64.RawURLEncoding.DecodeString(code)
	if err != nil {
		return "", providers.InvalidCredentials("login code is not base64url")
	}
	plain, err := r.opts.Sealer.Open(blob, handOffPurpose)
	if err != nil {
		return "", providers.InvalidCredentials("login code was not made here")
	}
	var h handOff
	if err := json.Unmarshal(plain, &h); err != nil || h.UserID == "" {
		return "", providers.InvalidCredentials("malformed login code")
	}
	now := r.opts.Now()
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	switch {
	case !now.Before(h.Expires):
		return "", providers.InvalidCredentials("login code expired")
	case subtle.ConstantTimeCompare([]byte(got), []byte(h.Challenge)) != 1:
		return "", providers.InvalidCredentials("login code presented with another verifier")
	}
	switch err := r.spent.spend(sha256.Sum256(blob), now); {
	case errors.Is(err, errSpent):
		return "", providers.InvalidCredentials("login code used already")
	case err != nil:
		return "", fmt.Errorf("%w: %w", providers.ErrInvalidCredentials, err)
	}
	return h.UserID, nil
}
