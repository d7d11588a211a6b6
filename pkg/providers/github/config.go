package github

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
)

// Config configures a GitHub OAuth provider.
type Config struct {
	// Name prefixes groups and identifies the provider; default "github".
	Name         string `json:"name,omitempty"`
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret"`
	// RedirectURL is Drover's callback, as registered with the OAuth app.
	RedirectURL string `json:"redirectURL"`
	// BaseURL is a GitHub Enterprise Server, e.g.
	// https://github.example.org; empty means github.com.
	BaseURL string `json:"baseURL,omitempty"`
	// Orgs, when not empty, admits only members of one of them (logins,
	// matched without regard to case).
	Orgs []string `json:"orgs,omitempty"`
	// Scopes to ask for; default "read:org".
	Scopes []string `json:"scopes,omitempty"`
	// CAData is PEM for a GitHub Enterprise Server; empty means the
	// system roots.
	CAData string `json:"caData,omitempty"`
	// Timeout bounds each request to GitHub; default 30s.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Defaults.
const (
	DefaultName    = "github"
	DefaultTimeout = 30 * time.Second
	githubWeb      = "https://github.com"
	githubAPI      = "https://api.github.com"
)

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"read:org"}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	return c
}

// endpoints returns the web origin (authorize, access_token) and the API
// base.
func (c Config) endpoints() (web, api string) {
	if c.BaseURL == "" {
		return githubWeb, githubAPI
	}
	return c.BaseURL, c.BaseURL + "/api/v3"
}

// loginRE is a GitHub login: alphanumerics and single hyphens, at most 39.
var loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$`)

// Validate reports the first problem with c (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := providers.CheckName(c.Name); err != nil {
		return err
	}
	switch {
	case c.ClientID == "":
		return errors.New("clientID is required")
	case c.ClientSecret == "":
		return errors.New("clientSecret is required")
	}
	if err := checkURL("redirectURL", c.RedirectURL, true); err != nil {
		return err
	}
	if c.BaseURL != "" {
		if err := checkURL("baseURL", c.BaseURL, false); err != nil {
			return err
		}
	}
	for _, o := range c.Orgs {
		if !loginRE.MatchString(o) {
			return fmt.Errorf("org %q is not a GitHub login", o)
		}
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n,") {
			return fmt.Errorf("scope %q is not a scope", s)
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

// checkURL wants an absolute https URL (http allowed for the redirect only
// on loopback), without credentials, query or fragment; a base URL has no
// path either.
func checkURL(name, raw string, redirect bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	case u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "":
		return fmt.Errorf("%s %q: want an absolute URL without credentials, query or fragment", name, raw)
	case !redirect && u.Path != "":
		return fmt.Errorf("%s %q: want scheme and host only", name, raw)
	case u.Scheme == "https":
		return nil
	case redirect && u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"):
		return nil
	}
	return fmt.Errorf("%s %q: must be https", name, raw)
}
