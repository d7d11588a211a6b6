package ldap

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/drover-dev/drover/pkg/providers"
)

// Config configures an LDAP or Active Directory provider. The zero values of
// the optional fields take the defaults named on each, which depend on
// ActiveDirectory.
type Config struct {
	// Name prefixes groups and identifies the provider; default "ldap".
	Name string `json:"name,omitempty"`
	// URL is ldaps://host[:636] or ldap://host[:389].
	URL string `json:"url"`
	// StartTLS upgrades an ldap:// connection to TLS before any bind.
	StartTLS bool `json:"startTLS,omitempty"`
	// CAData is PEM; empty means the system roots.
	CAData string `json:"caData,omitempty"`
	// ServerName is the name to verify in the server's certificate;
	// empty means the URL's host.
	ServerName string `json:"serverName,omitempty"`
	// InsecureNoTLS allows ldap:// without StartTLS: passwords cross the
	// network in clear. Only for a server on the same host.
	InsecureNoTLS bool `json:"insecureNoTLS,omitempty"`

	// BindDN and BindPassword are the service account that searches;
	// both empty means an anonymous bind.
	BindDN       string `json:"bindDN,omitempty"`
	BindPassword string `json:"bindPassword,omitempty"`

	// UserBaseDN is where users are searched (whole subtree).
	UserBaseDN string `json:"userBaseDN"`
	// UserFilter selects user entries; default "(objectClass=person)", or
	// "(&(objectCategory=person)(objectClass=user))" for AD.
	UserFilter string `json:"userFilter,omitempty"`
	// UsernameAttribute holds the login name; default "uid", or
	// "sAMAccountName" for AD.
	UsernameAttribute string `json:"usernameAttribute,omitempty"`
	// DisplayNameAttribute; default "cn", or "displayName" for AD.
	DisplayNameAttribute string `json:"displayNameAttribute,omitempty"`
	// DisabledFilter matches a disabled user entry, e.g.
	// "(pwdAccountLockedTime=*)" (OpenLDAP's ppolicy) or
	// "(nsAccountLock=TRUE)" (389 DS); for AD the default is
	// "(userAccountControl:1.2.840.113556.1.4.803:=2)" (ACCOUNTDISABLE).
	// Empty (elsewhere) means no check beyond what the server refuses.
	DisabledFilter string `json:"disabledFilter,omitempty"`

	// GroupBaseDN is where groups are searched; empty means no groups.
	GroupBaseDN string `json:"groupBaseDN,omitempty"`
	// GroupFilter selects group entries; default
	// "(objectClass=groupOfNames)", or "(objectClass=group)" for AD.
	GroupFilter string `json:"groupFilter,omitempty"`
	// MemberAttribute of a group names its members by DN; default "member".
	MemberAttribute string `json:"memberAttribute,omitempty"`
	// MaxNestingDepth bounds how many levels of groups within groups are
	// followed (1: direct membership only); default 10, at most 100.
	// Ignored for AD, whose server follows the chain itself.
	MaxNestingDepth int `json:"maxNestingDepth,omitempty"`

	// ActiveDirectory selects AD's defaults and its in-chain group search.
	ActiveDirectory bool `json:"activeDirectory,omitempty"`
	// Timeout bounds the dial, the TLS handshake and each operation;
	// default 10s.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Defaults.
const (
	DefaultName            = "ldap"
	DefaultTimeout         = 10 * time.Second
	DefaultMaxNestingDepth = 10
	maxNestingDepth        = 100

	// MatchingRuleInChain is AD's LDAP_MATCHING_RULE_IN_CHAIN.
	MatchingRuleInChain = "1.2.840.113556.1.4.1941"
	// adDisabledFilter matches userAccountControl's ACCOUNTDISABLE bit
	// (LDAP_MATCHING_RULE_BIT_AND).
	adDisabledFilter = "(userAccountControl:1.2.840.113556.1.4.803:=2)"
)

// withDefaults returns c with the defaults filled in.
func (c Config) withDefaults() Config {
	def := func(s *string, plain, ad string) {
		if *s == "" {
			*s = plain
			if c.ActiveDirectory {
				*s = ad
			}
		}
	}
	def(&c.Name, DefaultName, DefaultName)
	def(&c.UserFilter, "(objectClass=person)", "(&(objectCategory=person)(objectClass=user))")
	def(&c.UsernameAttribute, "uid", "sAMAccountName")
	def(&c.DisplayNameAttribute, "cn", "displayName")
	def(&c.DisabledFilter, "", adDisabledFilter)
	def(&c.GroupFilter, "(objectClass=groupOfNames)", "(objectClass=group)")
	def(&c.MemberAttribute, "member", "member")
	if c.MaxNestingDepth == 0 {
		c.MaxNestingDepth = DefaultMaxNestingDepth
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// attrRE is an attribute description: a name or an OID. Attribute names are
// written into filters as they are, so they must be no more than this.
var attrRE = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9-]{0,63}|[0-9]+(?:\.[0-9]+){0,31})$`)

// Validate reports the first problem with c (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := providers.CheckName(c.Name); err != nil {
		return err
	}
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return fmt.Errorf("url: %w", err)
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		return fmt.Errorf("url %q: scheme must be ldap or ldaps", c.URL)
	case u.Hostname() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("url %q: want ldap[s]://host[:port] and nothing else", c.URL)
	case u.Scheme == "ldaps" && c.StartTLS:
		return errors.New("startTLS is for ldap:// URLs; ldaps:// is TLS already")
	case u.Scheme == "ldap" && !c.StartTLS && !c.InsecureNoTLS:
		return errors.New("ldap:// without startTLS sends passwords in clear: use ldaps://, startTLS, or say insecureNoTLS")
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return fmt.Errorf("url %q: port: %w", c.URL, err)
		}
	}
	if c.CAData != "" {
		if _, err := providers.TLSConfig([]byte(c.CAData), ""); err != nil {
			return fmt.Errorf("caData: %w", err)
		}
	}
	switch {
	case c.BindDN != "" && c.BindPassword == "":
		return errors.New("bindDN without bindPassword would be an unauthenticated bind")
	case c.BindDN == "" && c.BindPassword != "":
		return errors.New("bindPassword without bindDN")
	}
	for _, dn := range []struct{ name, value string }{{"bindDN", c.BindDN}, {"userBaseDN", c.UserBaseDN}, {"groupBaseDN", c.GroupBaseDN}} {
		if dn.value == "" {
			if dn.name == "userBaseDN" {
				return errors.New("userBaseDN is required")
			}
			continue
		}
		if _, err := goldap.ParseDN(dn.value); err != nil {
			return fmt.Errorf("%s %q: %w", dn.name, dn.value, err)
		}
	}
	for _, f := range []struct{ name, value string }{{"userFilter", c.UserFilter}, {"groupFilter", c.GroupFilter}, {"disabledFilter", c.DisabledFilter}} {
		if f.value == "" {
			continue
		}
		if _, err := goldap.CompileFilter(f.value); err != nil {
			return fmt.Errorf("%s %q: %w", f.name, f.value, err)
		}
	}
	for _, a := range []struct{ name, value string }{{"usernameAttribute", c.UsernameAttribute}, {"displayNameAttribute", c.DisplayNameAttribute}, {"memberAttribute", c.MemberAttribute}} {
		if !attrRE.MatchString(a.value) {
			return fmt.Errorf("%s %q is not an attribute name", a.name, a.value)
		}
	}
	switch {
	case c.MaxNestingDepth < 0 || c.MaxNestingDepth > maxNestingDepth:
		return fmt.Errorf("maxNestingDepth must be 1 to %d", maxNestingDepth)
	case c.Timeout < 0:
		return errors.New("timeout must not be negative")
	}
	return nil
}
