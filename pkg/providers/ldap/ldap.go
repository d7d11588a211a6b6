package ldap

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/drover-dev/drover/pkg/providers"
)

// Provider is an LDAP or Active Directory PasswordProvider.
type Provider struct {
	cfg    Config
	host   string // host:port to dial
	tls    *tls.Config
	useTLS bool // ldaps://
	log    *slog.Logger
}

var _ providers.PasswordProvider = (*Provider)(nil)

// New validates cfg and returns a Provider. It does not connect: the server
// may be down when Drover starts.
func New(cfg Config, logger *slog.Logger) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ldap provider: %w", err)
	}
	cfg = cfg.withDefaults()
	u, _ := url.Parse(cfg.URL) // Validate parsed it
	port := u.Port()
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	serverName := cfg.ServerName
	if serverName == "" {
		serverName = u.Hostname()
	}
	tlsCfg, err := providers.TLSConfig([]byte(cfg.CAData), serverName)
	if err != nil {
		return nil, fmt.Errorf("ldap provider %s: %w", cfg.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Provider{
		cfg:    cfg,
		host:   net.JoinHostPort(u.Hostname(), port),
		tls:    tlsCfg,
		useTLS: u.Scheme == "ldaps",
		log:    logger.With("provider", cfg.Name),
	}, nil
}

// Name implements providers.Provider.
func (p *Provider) Name() string { return p.cfg.Name }

// Login implements providers.PasswordProvider.
func (p *Provider) Login(ctx context.Context, username, password string) (providers.Principal, error) {
	if err := providers.CheckUsername(username); err != nil {
		return providers.Principal{}, err
	}
	if err := providers.CheckPassword(password); err != nil {
		return providers.Principal{}, fmt.Errorf("user %q: %w", username, err)
	}
	conn, closeConn, err := p.connect(ctx)
	if err != nil {
		return providers.Principal{}, err
	}
	defer closeConn()
	if err := p.serviceBind(conn); err != nil {
		return providers.Principal{}, err
	}
	entry, err := p.findUser(conn, username)
	if err != nil {
		return providers.Principal{}, err
	}
	if err := p.checkEnabled(conn, entry); err != nil {
		return providers.Principal{}, err
	}
	// CheckPassword refused an empty password above; AllowEmptyPassword
	// stays false so go-ldap refuses one too.
	if _, err := conn.SimpleBind(&goldap.SimpleBindRequest{Username: entry.DN, Password: password}); err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return providers.Principal{}, providers.InvalidCredentials("ldap %s: wrong password for %q", p.cfg.Name, username)
		}
		return providers.Principal{}, fmt.Errorf("ldap %s: bind as %q: %w", p.cfg.Name, entry.DN, err)
	}
	// Back to the service account: the user may not be allowed to read
	// groups, and what they may read must not change what they are.
	if err := p.serviceBind(conn); err != nil {
		return providers.Principal{}, err
	}
	return p.principal(conn, entry, username)
}

// Refresh implements providers.Provider: it re-reads the user's entry by DN
// and their groups as the service account.
func (p *Provider) Refresh(ctx context.Context, prev providers.Principal) (providers.Principal, error) {
	if prev.Provider != p.cfg.Name || prev.ID == "" {
		return providers.Principal{}, fmt.Errorf("ldap %s: cannot refresh a principal of provider %q", p.cfg.Name, prev.Provider)
	}
	conn, closeConn, err := p.connect(ctx)
	if err != nil {
		return providers.Principal{}, err
	}
	defer closeConn()
	if err := p.serviceBind(conn); err != nil {
		return providers.Principal{}, err
	}
	res, err := conn.Search(p.search(prev.ID, goldap.ScopeBaseObject, p.cfg.UserFilter, 1, p.userAttrs()))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) || err == nil && len(res.Entries) == 0 {
		return providers.Principal{}, providers.InvalidCredentials("ldap %s: user %q is gone", p.cfg.Name, prev.ID)
	}
	if err != nil {
		return providers.Principal{}, fmt.Errorf("ldap %s: read user %q: %w", p.cfg.Name, prev.ID, err)
	}
	entry := res.Entries[0]
	if err := p.checkEnabled(conn, entry); err != nil {
		return providers.Principal{}, err
	}
	return p.principal(conn, entry, prev.Username)
}

// connect dials the server (TLS, or StartTLS when configured) and returns
// the connection with a function that closes it. The connection is also
// closed when ctx ends, which fails any operation in flight.
func (p *Provider) connect(parent context.Context) (*goldap.Conn, func(), error) {
	ctx, cancel := context.WithTimeout(parent, p.cfg.Timeout)
	defer cancel() // bounds the dial and the TLS handshake
	d := &net.Dialer{Timeout: p.cfg.Timeout}
	raw, err := d.DialContext(ctx, "tcp", p.host)
	if err != nil {
		return nil, nil, fmt.Errorf("ldap %s: dial %s: %w", p.cfg.Name, p.host, err)
	}
	if p.useTLS {
		tc := tls.Client(raw, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, nil, fmt.Errorf("ldap %s: TLS with %s: %w", p.cfg.Name, p.host, err)
		}
		raw = tc
	}
	conn := goldap.NewConn(raw, p.useTLS)
	conn.Start()
	conn.SetTimeout(p.cfg.Timeout)
	if p.cfg.StartTLS {
		if err := conn.StartTLS(p.tls); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("ldap %s: StartTLS with %s: %w", p.cfg.Name, p.host, err)
		}
	}
	stop := context.AfterFunc(parent, func() { conn.Close() })
	return conn, func() { stop(); conn.Close() }, nil
}

// serviceBind binds as the service account, or anonymously without one.
func (p *Provider) serviceBind(conn *goldap.Conn) error {
	var err error
	if p.cfg.BindDN == "" {
		_, err = conn.SimpleBind(&goldap.SimpleBindRequest{AllowEmptyPassword: true}) // anonymous: no DN, no password
	} else {
		_, err = conn.SimpleBind(&goldap.SimpleBindRequest{Username: p.cfg.BindDN, Password: p.cfg.BindPassword})
	}
	if err != nil {
		return fmt.Errorf("ldap %s: bind as the service account %q: %w", p.cfg.Name, p.cfg.BindDN, err)
	}
	return nil
}

func (p *Provider) userAttrs() []string {
	return []string{p.cfg.UsernameAttribute, p.cfg.DisplayNameAttribute}
}

func (p *Provider) search(base string, scope int, filter string, sizeLimit int, attrs []string) *goldap.SearchRequest {
	return goldap.NewSearchRequest(base, scope, goldap.NeverDerefAliases, sizeLimit,
		int(p.cfg.Timeout.Seconds()+0.5), false, filter, attrs, nil)
}

// userFilter is UserFilter and UsernameAttribute equal to the username,
// escaped: the only place a user's input enters a filter.
func userFilter(cfg Config, username string) string {
	return "(&" + cfg.UserFilter + "(" + cfg.UsernameAttribute + "=" + goldap.EscapeFilter(username) + "))"
}

// findUser returns the one entry for username; none or several is
// ErrInvalidCredentials.
func (p *Provider) findUser(conn *goldap.Conn, username string) (*goldap.Entry, error) {
	res, err := conn.Search(p.search(p.cfg.UserBaseDN, goldap.ScopeWholeSubtree, userFilter(p.cfg, username), 2, p.userAttrs()))
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || err == nil && len(res.Entries) > 1:
		return nil, providers.InvalidCredentials("ldap %s: username %q matches more than one entry", p.cfg.Name, username)
	case err != nil:
		return nil, fmt.Errorf("ldap %s: search user %q: %w", p.cfg.Name, username, err)
	case len(res.Entries) == 0:
		return nil, providers.InvalidCredentials("ldap %s: no user %q", p.cfg.Name, username)
	}
	return res.Entries[0], nil
}

// checkEnabled refuses an entry that DisabledFilter matches.
func (p *Provider) checkEnabled(conn *goldap.Conn, entry *goldap.Entry) error {
	if p.cfg.DisabledFilter == "" {
		return nil
	}
	res, err := conn.Search(p.search(entry.DN, goldap.ScopeBaseObject, p.cfg.DisabledFilter, 1, []string{"1.1"}))
	if err != nil {
		return fmt.Errorf("ldap %s: check whether %q is disabled: %w", p.cfg.Name, entry.DN, err)
	}
	if len(res.Entries) > 0 {
		return providers.InvalidCredentials("ldap %s: user %q is disabled", p.cfg.Name, entry.DN)
	}
	return nil
}

func (p *Provider) principal(conn *goldap.Conn, entry *goldap.Entry, typed string) (providers.Principal, error) {
	dns, err := p.groups(conn, entry.DN)
	if err != nil {
		return providers.Principal{}, err
	}
	groups, dropped, err := providers.Groups(p.cfg.Name, dns)
	if err != nil {
		return providers.Principal{}, fmt.Errorf("ldap %s: user %q: %w", p.cfg.Name, entry.DN, err)
	}
	if dropped > 0 {
		p.log.Warn("ldap groups left out: not usable as group names", "user", entry.DN, "count", dropped)
	}
	return providers.Principal{
		Provider:    p.cfg.Name,
		ID:          entry.DN,
		Username:    username(entry, p.cfg.UsernameAttribute, typed),
		DisplayName: entry.GetAttributeValue(p.cfg.DisplayNameAttribute),
		Groups:      groups,
	}, nil
}

// username is the directory's spelling of the login name: the value of attr
// that matches what was typed (ignoring case, as LDAP's usual matching rule
// for names does), else its first value.
func username(entry *goldap.Entry, attr, typed string) string {
	vals := entry.GetEqualFoldAttributeValues(attr)
	for _, v := range vals {
		if strings.EqualFold(v, typed) {
			return v
		}
	}
	if len(vals) > 0 {
		return vals[0]
	}
	return typed
}

// errTooManyGroups is wrapped when a user is in more than MaxGroups groups.
var errTooManyGroups = fmt.Errorf("more than %d groups", providers.MaxGroups)

// groups returns the DNs of every group that contains userDN, directly or
// through other groups.
func (p *Provider) groups(conn *goldap.Conn, userDN string) ([]string, error) {
	if p.cfg.GroupBaseDN == "" {
		return nil, nil
	}
	if p.cfg.ActiveDirectory {
		return p.groupsInChain(conn, userDN)
	}
	seen := map[string]bool{normDN(userDN): true}
	var out []string
	frontier := []string{userDN}
	for depth := 0; len(frontier) > 0; depth++ {
		if depth == p.cfg.MaxNestingDepth {
			p.log.Warn("ldap group nesting deeper than maxNestingDepth: deeper groups left out",
				"user", userDN, "maxNestingDepth", p.cfg.MaxNestingDepth)
			break
		}
		var next []string
		for start := 0; start < len(frontier); start += memberBatch {
			batch := frontier[start:min(start+memberBatch, len(frontier))]
			res, err := conn.Search(p.search(p.cfg.GroupBaseDN, goldap.ScopeWholeSubtree,
				memberFilter(p.cfg, batch), providers.MaxGroups+1, []string{"1.1"}))
			if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
				return nil, fmt.Errorf("ldap %s: groups of %q: %w", p.cfg.Name, userDN, errTooManyGroups)
			}
			if err != nil {
				return nil, fmt.Errorf("ldap %s: groups of %q: %w", p.cfg.Name, userDN, err)
			}
			for _, e := range res.Entries {
				if k := normDN(e.DN); !seen[k] {
					seen[k] = true
					out = append(out, e.DN)
					next = append(next, e.DN)
				}
			}
			if len(out) > providers.MaxGroups {
				return nil, fmt.Errorf("ldap %s: groups of %q: %w", p.cfg.Name, userDN, errTooManyGroups)
			}
		}
		frontier = next
	}
	return out, nil
}

// memberBatch is how many member DNs one group search asks about.
const memberBatch = 50

// memberFilter matches the groups that name any of dns as a member.
func memberFilter(cfg Config, dns []string) string {
	var b strings.Builder
	b.WriteString("(&" + cfg.GroupFilter + "(|")
	for _, dn := range dns {
		b.WriteString("(" + cfg.MemberAttribute + "=" + goldap.EscapeFilter(dn) + ")")
	}
	b.WriteString("))")
	return b.String()
}

// inChainFilter matches, on Active Directory, every group that contains dn
// at any depth.
func inChainFilter(cfg Config, dn string) string {
	return "(&" + cfg.GroupFilter + "(" + cfg.MemberAttribute + ":" + MatchingRuleInChain + ":=" + goldap.EscapeFilter(dn) + "))"
}

func (p *Provider) groupsInChain(conn *goldap.Conn, userDN string) ([]string, error) {
	req := p.search(p.cfg.GroupBaseDN, goldap.ScopeWholeSubtree, inChainFilter(p.cfg, userDN), providers.MaxGroups+1, []string{"1.1"})
	// AD answers at most MaxPageSize (1000) entries without paging.
	res, err := conn.SearchWithPaging(req, 500)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || err == nil && len(res.Entries) > providers.MaxGroups {
		return nil, fmt.Errorf("ldap %s: groups of %q: %w", p.cfg.Name, userDN, errTooManyGroups)
	}
	if err != nil {
		return nil, fmt.Errorf("ldap %s: groups of %q: %w", p.cfg.Name, userDN, err)
	}
	out := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		out = append(out, e.DN)
	}
	return out, nil
}

// normDN is a DN's key for "seen": parsed and lower-cased, so that spellings
// of one DN that differ in case or escaping count once.
func normDN(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return strings.ToLower(d.String())
}
