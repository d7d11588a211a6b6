package oidc

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/request"
)

// Config configures an OIDC provider.
type Config struct {
	// Name prefixes groups and identifies the provider; default "oidc".
	Name string `json:"name,omitempty"`
	// IssuerURL is the issuer, exactly as in its discovery document:
	// https, or http on a loopback address only.
	IssuerURL    string `json:"issuerURL"`
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret,omitempty"`
	// RedirectURL is Drover's callback, registered with the issuer.
	RedirectURL string `json:"redirectURL"`
	// Scopes to ask for; "openid" is always added. Default "openid",
	// "profile", "email". Dex needs "groups" for the groups claim and
	// "offline_access" for a refresh token.
	Scopes []string `json:"scopes,omitempty"`
	// UsernameClaim names the user; default "email". With "email", the
	// token must carry email_verified=true unless
	// InsecureSkipEmailVerified.
	UsernameClaim             string `json:"usernameClaim,omitempty"`
	InsecureSkipEmailVerified bool   `json:"insecureSkipEmailVerified,omitempty"`
	// GroupsClaim holds the groups, a string or a list of strings; default
	// "groups". A token without it has no groups.
	GroupsClaim string `json:"groupsClaim,omitempty"`
	// CAData is PEM; empty means the system roots.
	CAData string `json:"caData,omitempty"`
	// Timeout bounds each request to the issuer; default 30s.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Defaults.
const (
	DefaultName          = "oidc"
	DefaultUsernameClaim = "email"
	DefaultGroupsClaim   = "groups"
	DefaultTimeout       = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "profile", "email"}
	}
	if !slices.Contains(c.Scopes, "openid") {
		c.Scopes = append([]string{"openid"}, c.Scopes...)
	}
	if c.UsernameClaim == "" {
		c.UsernameClaim = DefaultUsernameClaim
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultGroupsClaim
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// claimRE is a claim name: printable, no spaces.
var claimRE = regexp.MustCompile(`^[!-~]{1,128}$`)

// scopeRE is RFC 6749's scope-token.
var scopeRE = regexp.MustCompile(`^[!#-\[\]-~]{1,128}$`)

// Validate reports the first problem with c (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := providers.CheckName(c.Name); err != nil {
		return err
	}
	if err := checkURL("issuerURL", c.IssuerURL); err != nil {
		return err
	}
	// OpenID Connect Discovery: an issuer has no query (nor fragment).
	if u, _ := url.Parse(c.IssuerURL); u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("issuerURL %q: an issuer has no query", request.RedactURL(c.IssuerURL))
	}
	if err := checkURL("redirectURL", c.RedirectURL); err != nil {
		return err
	}
	if c.ClientID == "" {
		return errors.New("clientID is required")
	}
	for _, s := range c.Scopes {
		if !scopeRE.MatchString(s) {
			return fmt.Errorf("scope %q is not a scope token", s)
		}
	}
	for _, cl := range []struct{ name, value string }{{"usernameClaim", c.UsernameClaim}, {"groupsClaim", c.GroupsClaim}} {
		if !claimRE.MatchString(cl.value) {
			return fmt.Errorf("%s %q is not a claim name", cl.name, cl.value)
		}
	}
	if c.CAData != "" {
		if _, err := providers.TLSConfig([]byte(c.CAData), ""); err != nil {
			return fmt.Errorf("caData: %w", err)
		}
	}
	if c.Timeout < 0 {
		return errors.New("timeout must not be negative")
	}
	return nil
}

// checkURL wants an absolute https URL, or http to a loopback address,
// without credentials or a fragment.
func checkURL(name, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	case u.Host == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("%s %q: want an absolute URL without credentials or fragment", name, request.RedactURL(raw))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%s %q: must be https (http only on loopback)", name, request.RedactURL(raw))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
