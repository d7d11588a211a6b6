package idp

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/drover-dev/drover/test/proc"
)

// The directory every Slapd serves. It is the same each time, so tests name
// users and groups through these values.
const (
	BaseDN    = "dc=example,dc=org"
	PeopleDN  = "ou=people," + BaseDN
	GroupsDN  = "ou=groups," + BaseDN
	ServiceDN = "cn=drover,ou=services," + BaseDN
	AdminDN   = "cn=admin," + BaseDN

	ServicePassword = "service-password-0123"
	AdminPassword   = "admin-password-0123"

	// UserFilter selects the people entries.
	UserFilter = "(objectClass=inetOrgPerson)"
	// GroupFilter selects the groups.
	GroupFilter = "(objectClass=groupOfNames)"
	// DisabledFilter matches a locked account: OpenLDAP's password policy
	// overlay (slapo-ppolicy, loaded here) keeps the lock time in the
	// operational attribute pwdAccountLockedTime; "000001010000Z" locks
	// for good. A provider configured with this filter refuses such a user
	// before trying their password.
	DisabledFilter = "(pwdAccountLockedTime=*)"
)

// User is a person in the directory.
type User struct {
	UID      string // the login name (attribute uid)
	CN       string // the RDN value and display name
	Mail     string
	Password string
	// Disabled users carry pwdAccountLockedTime (see DisabledFilter).
	Disabled bool
}

// DN is the user's distinguished name.
func (u User) DN() string { return "cn=" + ldap.EscapeDN(u.CN) + "," + PeopleDN }

// The users. Alice and Carol are in devs, itself a member of platform, in
// turn a member of admins: both are transitively in all three. Bob is in ops
// and in loop-a, which contains loop-b, which contains loop-a (a cycle).
var (
	Alice = User{UID: "alice", CN: "Alice Liddell", Mail: "alice@example.org", Password: "alice-password-1"}
	Bob   = User{UID: "bob", CN: "Bob Builder", Mail: "bob@example.org", Password: "bob-password-22"}
	// Carol is disabled; her password is right.
	Carol = User{UID: "carol", CN: "Carol Locked", Mail: "carol@example.org", Password: "carol-password-3", Disabled: true}
	// Meta has a login name made of LDAP filter metacharacters (and a
	// non-ASCII letter), shaped like an injection, and a DN whose RDN
	// needs escaping both as a DN and inside a filter. She is in devs.
	Meta = User{UID: `dév*)(uid=*))(|(uid=*\,"<>;~!&=|`, CN: `Meta (Char)*, User\`, Mail: "meta@example.org", Password: "meta-password-44"}
)

// Users are all the people in the directory.
var Users = []User{Alice, Bob, Carol, Meta}

// The groups (groupOfNames), by DN.
const (
	GroupDevs     = "cn=devs," + GroupsDN
	GroupPlatform = "cn=platform," + GroupsDN
	GroupAdmins   = "cn=admins," + GroupsDN
	GroupOps      = "cn=ops," + GroupsDN
	GroupLoopA    = "cn=loop-a," + GroupsDN
	GroupLoopB    = "cn=loop-b," + GroupsDN
)

// groupMembers lists the members of each group; a member may be a group.
var groupMembers = []struct {
	dn      string
	members []string
}{
	{GroupDevs, []string{Alice.DN(), Carol.DN(), Meta.DN()}},
	{GroupPlatform, []string{GroupDevs}},
	{GroupAdmins, []string{GroupPlatform}},
	{GroupOps, []string{Bob.DN()}},
	{GroupLoopA, []string{Bob.DN(), GroupLoopB}},
	{GroupLoopB, []string{GroupLoopA}},
}

// Slapd is a running OpenLDAP server on loopback with the directory above.
type Slapd struct {
	// URL is the plain port (ldap://127.0.0.1:<port>); StartTLS works on it.
	URL string
	// LDAPSURL is the TLS port (ldaps://127.0.0.1:<port>).
	LDAPSURL string
	// CAData is the PEM of the CA that signed the server's certificate
	// (for 127.0.0.1 and localhost).
	CAData []byte
	// CAFile holds CAData.
	CAFile string
	// Dir holds the configuration, the database and slapd.log.
	Dir string

	proc      *proc.Process
	removeDir bool
}

// StartSlapdT starts a Slapd for a test, failing it (with a hint to run
// `make idp` when slapd is missing), and stops it when the test ends.
func StartSlapdT(t testing.TB) *Slapd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := StartSlapd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("slapd log (%s):\n%s", s.LogPath(), proc.LogTail(s.LogPath(), 60))
		}
		s.Stop()
	})
	return s
}

// StartSlapd starts slapd on two free loopback ports, with a fresh
// configuration and database in a temporary directory that Stop removes.
func StartSlapd(ctx context.Context) (_ *Slapd, err error) {
	bin, err := FindSlapd()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "drover-idp-slapd-")
	if err != nil {
		return nil, err
	}
	s := &Slapd{Dir: dir, removeDir: true}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	certs, err := writeTLS(dir, "slapd")
	if err != nil {
		return nil, err
	}
	s.CAData, s.CAFile = certs.caPEM, certs.caFile
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(slapdConf(dir, certs)), 0o600); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	ldif := filepath.Join(dir, "data.ldif")
	if err := os.WriteFile(ldif, []byte(directoryLDIF()), 0o600); err != nil {
		return nil, err
	}
	// slapd in tool mode is slapadd: load the directory before serving it.
	if err := proc.Run("slapadd", bin, []string{"-Ta", "-f", conf, "-l", ldif, "-q"}, dir, filepath.Join(dir, "slapadd.log"), 30*time.Second); err != nil {
		return nil, err
	}
	const attempts = 3
	for i := 1; ; i++ {
		err = s.start(ctx, bin, conf)
		if err == nil {
			return s, nil
		}
		if i == attempts || s.proc == nil || !s.proc.PortInUse() || ctx.Err() != nil {
			return nil, err
		}
		s.proc.Stop(time.Second) // a port was taken between choosing and binding it: choose again
	}
}

// LogPath is slapd's log (its debug output at level "stats": connections,
// operations, filters and bind DNs; never passwords).
func (s *Slapd) LogPath() string { return filepath.Join(s.Dir, "slapd.log") }

func (s *Slapd) start(ctx context.Context, bin, conf string) error {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	s.URL = "ldap://127.0.0.1:" + strconv.Itoa(ports[0])
	s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(ports[1])
	// -d keeps slapd in the foreground (it never forks away from us).
	args := []string{"-f", conf, "-h", s.URL + "/ " + s.LDAPSURL + "/", "-d", "stats"}
	s.proc, err = proc.Start("slapd", bin, args, s.Dir, s.LogPath())
	if err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for {
		if s.proc.Exited() {
			return s.proc.ExitError()
		}
		if last = s.ping(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("idp: slapd not ready within 15s: %w; last lines of %s:\n%s", last, s.LogPath(), proc.LogTail(s.LogPath(), 40))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("idp: waiting for slapd: %w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ping binds as the service account on both ports.
func (s *Slapd) ping() error {
	for _, u := range []string{s.URL, s.LDAPSURL} {
		c, err := s.dial(u)
		if err != nil {
			return err
		}
		err = c.Bind(ServiceDN, ServicePassword)
		c.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Slapd) dial(url string) (*ldap.Conn, error) {
	c, err := ldap.DialURL(url, ldap.DialWithTLSConfig(s.TLSConfig()))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(10 * time.Second)
	return c, nil
}

// Admin returns a connection bound as the directory's root DN, for tests
// that change the directory (remove a member, delete a user). Close it.
func (s *Slapd) Admin() (*ldap.Conn, error) {
	c, err := s.dial(s.URL)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(AdminDN, AdminPassword); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Stop ends slapd (SIGTERM, then SIGKILL after 5 s) and removes the
// temporary directory. It is safe to call more than once.
func (s *Slapd) Stop() {
	s.proc.Stop(5 * time.Second)
	if s.removeDir {
		_ = os.RemoveAll(s.Dir)
		s.removeDir = false
	}
}

// TLSConfig trusts the server's CA, for tests that dial it themselves.
func (s *Slapd) TLSConfig() *tls.Config {
	return clientTLS(s.CAData)
}

func clientTLS(caPEM []byte) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func slapdConf(dir string, certs *tlsFiles) string {
	q := strconv.Quote
	var b strings.Builder
	for _, s := range []string{"core", "cosine", "inetorgperson"} {
		fmt.Fprintf(&b, "include %s\n", q(filepath.Join(schemaDir, s+".schema")))
	}
	fmt.Fprintf(&b, `modulepath %s
moduleload back_mdb.la
moduleload ppolicy.la
pidfile %s
argsfile %s
TLSCACertificateFile %s
TLSCertificateFile %s
TLSCertificateKeyFile %s
TLSProtocolMin 3.3
sizelimit 500

database mdb
maxsize 16777216
suffix %s
rootdn %s
rootpw %s
directory %s
index objectClass eq
index uid eq
index member eq
overlay ppolicy

# Users may authenticate with their password, nobody may read it.
access to attrs=userPassword
	by self =xw
	by anonymous auth
	by * none
# The service account reads everything else; users read their own entry.
access to *
	by dn.exact=%s read
	by self read
	by anonymous auth
	by * none
`, q(moduleDir), q(filepath.Join(dir, "slapd.pid")), q(filepath.Join(dir, "slapd.args")),
		q(certs.caFile), q(certs.certFile), q(certs.keyFile),
		q(BaseDN), q(AdminDN), q(ssha(AdminPassword)), q(filepath.Join(dir, "db")), q(ServiceDN))
	return b.String()
}

// directoryLDIF is the whole directory as LDIF for slapadd.
func directoryLDIF() string {
	var b strings.Builder
	entry := func(dn string, attrs ...[2]string) {
		ldifAttr(&b, "dn", dn)
		for _, a := range attrs {
			ldifAttr(&b, a[0], a[1])
		}
		b.WriteString("\n")
	}
	kv := func(k, v string) [2]string { return [2]string{k, v} }
	entry(BaseDN, kv("objectClass", "dcObject"), kv("objectClass", "organization"), kv("dc", "example"), kv("o", "Example"))
	for _, ou := range []string{"people", "groups", "services"} {
		entry("ou="+ou+","+BaseDN, kv("objectClass", "organizationalUnit"), kv("ou", ou))
	}
	entry(ServiceDN, kv("objectClass", "organizationalRole"), kv("objectClass", "simpleSecurityObject"),
		kv("cn", "drover"), kv("userPassword", ssha(ServicePassword)))
	for _, u := range Users {
		attrs := [][2]string{
			kv("objectClass", "inetOrgPerson"), kv("cn", u.CN), kv("sn", u.CN), kv("uid", u.UID),
			kv("mail", u.Mail), kv("displayName", u.CN), kv("userPassword", ssha(u.Password)),
		}
		if u.Disabled {
			attrs = append(attrs, kv("pwdAccountLockedTime", "000001010000Z"))
		}
		entry(u.DN(), attrs...)
	}
	for _, g := range groupMembers {
		cn := strings.TrimPrefix(strings.SplitN(g.dn, ",", 2)[0], "cn=")
		attrs := [][2]string{kv("objectClass", "groupOfNames"), kv("cn", cn)}
		for _, m := range g.members {
			attrs = append(attrs, kv("member", m))
		}
		entry(g.dn, attrs...)
	}
	return b.String()
}

// ldifAttr writes one attribute line, base64-encoded ("attr:: ...") unless
// the value is a SAFE-STRING of RFC 2849.
func ldifAttr(b *strings.Builder, attr, value string) {
	safe := utf8.ValidString(value) && value != "" && !strings.ContainsAny(value[:1], " :<") && !strings.HasSuffix(value, " ")
	for i := 0; safe && i < len(value); i++ {
		c := value[i]
		safe = c >= 0x20 && c < 0x7f
	}
	if safe {
		fmt.Fprintf(b, "%s: %s\n", attr, value)
		return
	}
	fmt.Fprintf(b, "%s:: %s\n", attr, base64.StdEncoding.EncodeToString([]byte(value)))
}

// ssha is OpenLDAP's salted SHA-1 password scheme, {SSHA}.
func ssha(password string) string {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	h := sha1.Sum(append([]byte(password), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h[:], salt...))
}
