package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/html"

	"github.com/drover-dev/drover/test/proc"
)

// The client Dex knows, and its connectors.
const (
	DexClientID     = "drover"
	DexClientSecret = "drover-client-secret-0123456789"
	// DefaultRedirectURL is the client's redirect URI unless DexOptions
	// names another. Nothing needs to listen there: Login stops at the
	// redirect and returns its query.
	DefaultRedirectURL = "http://127.0.0.1/drover/callback"

	// DexLocalConnector is Dex's static password database.
	DexLocalConnector = "local"
	// DexLDAPConnector is Dex's LDAP connector, backed by DexOptions.LDAP:
	// login by uid; "groups" holds the cn of each group that names the user
	// as member directly (Dex does not follow nesting).
	DexLDAPConnector = "ldap"
)

// DexStaticUser is the static password user (connector DexLocalConnector).
// Dex gives static users no groups.
var DexStaticUser = struct{ Email, Username, UserID, Password string }{
	Email: "static@example.org", Username: "static", UserID: "0d0b4f9e-static", Password: "static-password-5",
}

// DexOptions configure StartDex.
type DexOptions struct {
	// LDAP, when set, backs the LDAP connector (over ldaps, trusting its CA).
	LDAP *Slapd
	// RedirectURL is the client's only redirect URI; empty means
	// DefaultRedirectURL.
	RedirectURL string
}

// Dex is a running Dex on loopback, serving HTTPS with its own CA.
type Dex struct {
	// Issuer is https://127.0.0.1:<port>/dex.
	Issuer string
	// CAData is the PEM of the CA that signed Dex's certificate.
	CAData []byte
	// CAFile holds CAData.
	CAFile       string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	// Dir holds config.json and dex.log.
	Dir string

	proc      *proc.Process
	removeDir bool
}

// StartDexT starts a Dex for a test, failing it (with a hint to run `make
// idp` when dex is missing), and stops it when the test ends.
func StartDexT(t testing.TB, opts DexOptions) *Dex {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := StartDex(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dex log (%s):\n%s", d.LogPath(), proc.LogTail(d.LogPath(), 60))
		}
		d.Stop()
	})
	return d
}

// StartDex starts Dex on a free loopback port with a static configuration
// and in-memory storage, in a temporary directory that Stop removes.
func StartDex(ctx context.Context, opts DexOptions) (_ *Dex, err error) {
	bin, err := FindDex()
	if err != nil {
		return nil, err
	}
	if opts.RedirectURL == "" {
		opts.RedirectURL = DefaultRedirectURL
	}
	dir, err := os.MkdirTemp("", "drover-idp-dex-")
	if err != nil {
		return nil, err
	}
	d := &Dex{Dir: dir, removeDir: true, ClientID: DexClientID, ClientSecret: DexClientSecret, RedirectURL: opts.RedirectURL}
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	certs, err := writeTLS(dir, "dex")
	if err != nil {
		return nil, err
	}
	d.CAData, d.CAFile = certs.caPEM, certs.caFile
	if opts.LDAP != nil {
		// Dex reads the LDAP server's CA from a file of its own.
		if err := os.WriteFile(filepath.Join(dir, "ldap-ca.crt"), opts.LDAP.CAData, 0o600); err != nil {
			return nil, err
		}
	}
	const attempts = 3
	for i := 1; ; i++ {
		err = d.start(ctx, bin, certs, opts)
		if err == nil {
			return d, nil
		}
		if i == attempts || d.proc == nil || !d.proc.PortInUse() || ctx.Err() != nil {
			return nil, err
		}
		d.proc.Stop(time.Second)
	}
}

// LogPath is Dex's log.
func (d *Dex) LogPath() string { return filepath.Join(d.Dir, "dex.log") }

func (d *Dex) start(ctx context.Context, bin string, certs *tlsFiles, opts DexOptions) error {
	ports, err := proc.FreePorts(1)
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	d.Issuer = "https://" + addr + "/dex"
	cfg, err := d.config(addr, certs, opts)
	if err != nil {
		return err
	}
	conf := filepath.Join(d.Dir, "config.json")
	if err := os.WriteFile(conf, cfg, 0o600); err != nil {
		return err
	}
	d.proc, err = proc.Start("dex", bin, []string{"serve", conf}, d.Dir, d.LogPath())
	if err != nil {
		return err
	}
	client := d.HTTPClient(nil)
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for {
		if d.proc.Exited() {
			return d.proc.ExitError()
		}
		if last = d.ready(ctx, client); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("idp: dex not ready within 30s: %w; last lines of %s:\n%s", last, d.LogPath(), proc.LogTail(d.LogPath(), 40))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("idp: waiting for dex: %w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (d *Dex) ready(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.Issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("discovery: %s", resp.Status)
	}
	return nil
}

// config is Dex's configuration, as JSON (which Dex reads as YAML).
func (d *Dex) config(addr string, certs *tlsFiles, opts DexOptions) ([]byte, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(DexStaticUser.Password), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	type m = map[string]any
	connectors := []m{}
	if s := opts.LDAP; s != nil {
		connectors = append(connectors, m{
			"type": "ldap", "id": DexLDAPConnector, "name": "LDAP",
			"config": m{
				"host":           strings.TrimPrefix(s.LDAPSURL, "ldaps://"),
				"rootCA":         filepath.Join(d.Dir, "ldap-ca.crt"),
				"bindDN":         ServiceDN,
				"bindPW":         ServicePassword,
				"usernamePrompt": "Username",
				"userSearch": m{
					"baseDN": PeopleDN, "filter": UserFilter, "username": "uid",
					"idAttr": "uid", "emailAttr": "mail", "nameAttr": "cn", "preferredUsernameAttr": "uid",
				},
				"groupSearch": m{
					"baseDN": GroupsDN, "filter": GroupFilter,
					"userMatchers": []m{{"userAttr": "DN", "groupAttr": "member"}},
					"nameAttr":     "cn",
				},
			},
		})
	}
	cfg := m{
		"issuer":  d.Issuer,
		"storage": m{"type": "memory"},
		"web":     m{"https": addr, "tlsCert": certs.certFile, "tlsKey": certs.keyFile},
		"logger":  m{"level": "debug", "format": "text"},
		"oauth2":  m{"skipApprovalScreen": true, "responseTypes": []string{"code"}},
		"staticClients": []m{{
			"id": d.ClientID, "secret": d.ClientSecret, "name": "Drover",
			"redirectURIs": []string{d.RedirectURL},
		}},
		"enablePasswordDB": true,
		"staticPasswords": []m{{
			"email": DexStaticUser.Email, "hash": string(hash),
			"username": DexStaticUser.Username, "userID": DexStaticUser.UserID,
		}},
		"connectors": connectors,
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// Stop ends Dex (SIGTERM, then SIGKILL after 5 s) and removes the temporary
// directory. It is safe to call more than once.
func (d *Dex) Stop() {
	d.proc.Stop(5 * time.Second)
	if d.removeDir {
		_ = os.RemoveAll(d.Dir)
		d.removeDir = false
	}
}

// HTTPClient trusts Dex's CA. With a non-nil jar it keeps cookies. It
// follows redirects except to the client's redirect URI, where it stops.
func (d *Dex) HTTPClient(jar http.CookieJar) *http.Client {
	return &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: clientTLS(d.CAData)},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if d.isCallback(req.URL) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("idp: more than 10 redirects")
			}
			return nil
		},
	}
}

func (d *Dex) isCallback(u *url.URL) bool {
	r, err := url.Parse(d.RedirectURL)
	return err == nil && u.Scheme == r.Scheme && u.Host == r.Host && u.Path == r.Path
}

// ErrLoginRefused is returned by Login when Dex shows its login form again
// (wrong username or password).
var ErrLoginRefused = errors.New("idp: dex refused the login")

// Login plays the user's browser: it opens authURL (the client's
// authorization request) at the given connector, submits Dex's login form
// with username and password, and follows Dex's redirects until one goes to
// the client's redirect URI. It returns that redirect's query parameters
// (code and state, or error and error_description). A login Dex refuses is
// ErrLoginRefused.
func (d *Dex) Login(ctx context.Context, authURL, connectorID, username, password string) (url.Values, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	client := d.HTTPClient(jar)
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("connector_id", connectorID) // skip Dex's connector chooser
	u.RawQuery = q.Encode()

	resp, err := d.do(ctx, client, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if cb, ok := d.callback(resp); ok {
		return cb, nil
	}
	form, err := loginForm(resp)
	if err != nil {
		return nil, err
	}
	form.values.Set("login", username)
	form.values.Set("password", password)
	resp, err = d.do(ctx, client, http.MethodPost, form.action, form.values)
	if err != nil {
		return nil, err
	}
	if cb, ok := d.callback(resp); ok {
		return cb, nil
	}
	if _, err := loginForm(resp); err == nil {
		return nil, ErrLoginRefused
	}
	return nil, fmt.Errorf("idp: dex answered %s at %s, neither a login form nor a redirect to the client", resp.status, resp.url)
}

type page struct {
	status     string
	url        *url.URL
	location   string
	body       []byte
	retryAfter string
}

func (d *Dex) do(ctx context.Context, client *http.Client, method, target string, form url.Values) (*page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &page{status: resp.Status, url: resp.Request.URL, location: resp.Header.Get("Location"), body: b,
		retryAfter: resp.Header.Get("Retry-After")}, nil
}

// callback reports whether p is the redirect to the client, with its query.
func (d *Dex) callback(p *page) (url.Values, bool) {
	if p.location == "" {
		return nil, false
	}
	loc, err := p.url.Parse(p.location)
	if err != nil || !d.isCallback(loc) {
		return nil, false
	}
	return loc.Query(), true
}

type form struct {
	action string
	values url.Values
}

// loginForm finds the POST form with a password field in an HTML page.
func loginForm(p *page) (*form, error) {
	doc, err := html.Parse(strings.NewReader(string(p.body)))
	if err != nil {
		return nil, err
	}
	var found *form
	var walk func(n *html.Node, f *form)
	walk = func(n *html.Node, f *form) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				if strings.EqualFold(attr(n, "method"), "post") {
					action, err := p.url.Parse(attr(n, "action"))
					if err == nil {
						f = &form{action: action.String(), values: url.Values{}}
					}
				}
			case "input":
				if f != nil && attr(n, "name") != "" {
					f.values.Set(attr(n, "name"), attr(n, "value"))
					if attr(n, "type") == "password" && found == nil {
						found = f
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	if found == nil {
		return nil, fmt.Errorf("idp: no login form in the page at %s (%s)", p.url, p.status)
	}
	return found, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
