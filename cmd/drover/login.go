package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/drover-dev/drover/pkg/cli"
	"github.com/drover-dev/drover/pkg/cmdline"
)

// LoginOptions are drover login's command line.
type LoginOptions struct {
	*global
	streams
	CAChecksum    string
	Provider      string
	Username      string
	PasswordStdin bool
	// NoBrowser and Paste shape a browser login (OIDC, GitHub).
	NoBrowser bool
	Paste     bool
}

func (o *LoginOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.CAChecksum, "ca-checksum", "", "sha256 of the server's CA bundle (GET /cacerts): required on the first login to a server")
	fs.StringVar(&o.Provider, "provider", "local", "the auth provider: local, or the name of an LDAP/Active Directory provider")
	fs.StringVar(&o.Username, "username", "", "the username (asked for when not given)")
	fs.BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from stdin (one trailing newline is dropped)")
	fs.BoolVar(&o.NoBrowser, "no-browser", false, "OIDC and GitHub: print the login URL instead of opening a browser")
	fs.BoolVar(&o.Paste, "paste", false, "OIDC and GitHub, on a machine without a browser: open the URL on any machine and paste the code it shows")
}

func (o *LoginOptions) Validate() error {
	if o.Server == "" {
		return errors.New("the server to log in to is required: drover login <server URL>")
	}
	if _, err := cli.NormalizeURL(o.Server); err != nil {
		return err
	}
	if o.PasswordStdin && o.Username == "" {
		return errors.New("--password-stdin needs --username")
	}
	return nil
}

func newLoginCommand(g *global, stdin io.Reader) *cobra.Command {
	o := &LoginOptions{global: g}
	cmd := &cobra.Command{
		Use:   "login [server URL]",
		Short: "Log in to a Drover server",
		Long: "Log in to a Drover server and keep the session for later commands.\n\n" +
			"The first login to a server pins its CA: give its checksum with --ca-checksum\n" +
			"(the administrator has it). Later logins use the pinned CA. The password is\n" +
			"asked for on the terminal, never echoed, or read from stdin with --password-stdin.\n" +
			"At an OIDC or GitHub provider you log in through a browser: drover opens it (or prints\n" +
			"the URL with --no-browser) and the login comes back to drover on 127.0.0.1; on a machine\n" +
			"without a browser, --paste lets you open the URL anywhere and paste the code it shows.",
		Example: "  drover login https://drover.example.com --ca-checksum 3f9c…\n" +
			"  echo \"$PASSWORD\" | drover login drover.example.com --username ci --password-stdin\n" +
			"  drover login --provider corp-ldap   # again, to the server last logged in to\n" +
			"  drover login --provider sso         # OIDC: in the browser\n" +
			"  drover login --provider sso --paste # OIDC, from a machine without a browser",
		Args: cobra.MaximumNArgs(1),
	}
	o.Flags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o.set(cmd, stdin)
		if len(args) == 1 {
			o.Server = args[0]
		}
		if o.Server == "" {
			if cfg, err := loadConfig(o.global); err == nil {
				o.Server = cfg.Current
			}
		}
		return cmdline.RunE(o, runLogin)(cmd, args)
	}
	return cmd
}

func runLogin(ctx context.Context, o *LoginOptions) error {
	dir, cfg, err := configOf(o.global)
	if err != nil {
		return err
	}
	lo := cli.LoginOptions{Server: o.Server, CAChecksum: o.CAChecksum, Provider: o.Provider, Username: o.Username}
	if o.PasswordStdin {
		if lo.Password, err = cli.ReadPassword(o.in); err != nil {
			return err
		}
	} else {
		if o.CAChecksum == "" {
			lo.ConfirmCA = o.confirmCA
		}
		lo.Ask = func() (string, []byte, error) { return prompt(o) }
		lo.Browser = o.browserLogin()
	}
	s, err := cli.Login(ctx, cfg, lo)
	clear(lo.Password)
	if err != nil {
		return err
	}
	if err := cfg.Save(dir); err != nil {
		return fmt.Errorf("logged in, but the session could not be kept: %w", err)
	}
	fmt.Fprintf(o.out, "Logged in to %s as %s (session %s, until %s).\n", s.URL, cli.Printable(s.Username), cli.Printable(s.SessionID),
		s.ExpiresAt.Local().Format("2006-01-02 15:04 MST"))
	return nil
}

// prompt asks for the username (unless given) and the password on the
// terminal; the password is not echoed.
func prompt(o *LoginOptions) (string, []byte, error) {
	f, ok := o.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", nil, errors.New("no terminal to ask for the password on: use --username and --password-stdin")
	}
	user := o.Username
	if user == "" {
		fmt.Fprint(o.err, "Username: ")
		var err error
		if user, err = cli.ReadLine(f); err != nil {
			return "", nil, err
		}
	}
	fmt.Fprintf(o.err, "Password for %s: ", user)
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(o.err)
	if err != nil {
		return "", nil, err
	}
	return user, pw, nil
}

// browserLogin is how this command finishes a login through a browser.
func (o *LoginOptions) browserLogin() *cli.BrowserLogin {
	b := &cli.BrowserLogin{Open: func(u string) error {
		fmt.Fprintf(o.err, "Log in to Drover in your browser; if it does not open, open this URL:\n\n  %s\n\n", u)
		if !o.NoBrowser && !o.Paste {
			openBrowser(u)
		}
		return nil
	}}
	if o.Paste {
		b.Paste = func() (string, error) {
			fmt.Fprint(o.err, "Paste the code the page shows: ")
			return cli.ReadLine(o.in)
		}
	}
	return b
}

// openBrowser starts the person's browser on u ($BROWSER, else
// xdg-open), without waiting for it; the URL is printed anyway.
func openBrowser(u string) {
	name := os.Getenv("BROWSER")
	if name == "" {
		name = "xdg-open"
	}
	cmd := exec.Command(name, u)
	cmd.Stdout, cmd.Stderr = nil, nil
	if cmd.Start() == nil {
		go cmd.Wait()
	}
}

// confirmCA asks the person on the terminal to trust a server's CA by
// its checksum; only the word yes trusts it.
func (o *LoginOptions) confirmCA(serverURL, sum string) error {
	f, ok := o.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return cli.ErrNoPin
	}
	fmt.Fprintf(o.err, "This is the first login to %s. Its CA has the checksum\n\n  %s\n\n"+
		"Compare it with the one the server's administrator gave you (drover-server prints it at start).\n"+
		"Trust this CA for %s? Type yes to trust it: ", serverURL, sum, serverURL)
	answer, err := cli.ReadLine(f)
	if err != nil {
		return err
	}
	if answer != "yes" {
		return fmt.Errorf("the CA of %s was not trusted: nothing was sent to it (log in with --ca-checksum <sum> to pin it without a question)", serverURL)
	}
	return nil
}

// configOf loads the config of g's directory.
func configOf(g *global) (string, *cli.Config, error) {
	dir, err := cli.Dir(g.ConfigDir)
	if err != nil {
		return "", nil, err
	}
	cfg, err := cli.Load(dir)
	return dir, cfg, err
}

// serverOf returns the server of the configuration (serverURL, or the
// current one) after following a CA rotation of it (cli.FollowCA), saved.
func serverOf(ctx context.Context, g *global, serverURL string) (*cli.Server, error) {
	dir, cfg, err := configOf(g)
	if err != nil {
		return nil, err
	}
	s, err := cfg.Lookup(serverURL)
	if err != nil {
		return nil, err
	}
	changed, err := cli.FollowCA(ctx, s)
	if err != nil {
		return nil, err
	}
	if changed {
		if err := cfg.Save(dir); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func loadConfig(g *global) (*cli.Config, error) {
	_, cfg, err := configOf(g)
	return cfg, err
}
