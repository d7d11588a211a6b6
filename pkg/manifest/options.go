package manifest

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/token"
)

// Options say what to render. Render validates them first.
type Options struct {
	// ServerURL is the server's external https URL (CATTLE_SERVER).
	ServerURL string
	// CAChecksum is the SHA-256 of the server's CA PEM, 64 hex characters
	// in either case (checksum.Parse); the manifest carries it in lower case
	// (CATTLE_CA_CHECKSUM). The agent refuses a server whose CA differs.
	CAChecksum string
	// Token is the cluster's registration token. It lands in the Secret
	// cattle-credentials and nowhere else.
	Token string
	// Image is the agent image, e.g. "ghcr.io/drover-dev/drover-agent:v0.1.0".
	Image string

	// NodeAgent adds the cattle-node-agent DaemonSet.
	NodeAgent bool
	// NodeToken is the node registration token (required with NodeAgent). It
	// can only open node tunnels, so a compromised node cannot pose as the
	// cluster agent; it lands in the Secret cattle-node-credentials.
	NodeToken string

	// AuthEndpoint adds the kube-api-auth DaemonSet (authorized cluster
	// endpoint); nil renders none.
	AuthEndpoint *ACEOptions
}

// ACEOptions configure kube-api-auth, the webhook the downstream apiserver
// calls to authenticate Drover tokens when users bypass the server (the
// authorized cluster endpoint). It runs on every control-plane node, on the
// host network, listening on loopback only: the apiserver on the same host
// is its only client.
type ACEOptions struct {
	// Image runs `auth-endpoint`; empty means Options.Image.
	Image string
	// Port is the loopback port it listens on; 0 means DefaultACEPort. The
	// apiserver's authentication webhook config must point at it.
	Port int32
}

// DefaultACEPort is kube-api-auth's loopback port when ACEOptions.Port is 0.
const DefaultACEPort int32 = 6440

// imageRE is a loose image reference check: no whitespace, no scheme, no
// upper case in the repository part (the registry's rule).
var imageRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$`)

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var errs []error
	if u, err := url.Parse(o.ServerURL); err != nil || u.Scheme != "https" || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("server URL %q must be an https URL with no path, query or credentials", o.ServerURL))
	}
	if _, err := checksum.Parse(o.CAChecksum); err != nil {
		errs = append(errs, fmt.Errorf("CA checksum %w", err))
	}
	// Never echo a token in an error: it may end up in a log.
	if o.Token == "" {
		errs = append(errs, errors.New("registration token is required"))
	} else if _, err := token.Parse(o.Token); err != nil {
		errs = append(errs, errors.New("registration token is malformed"))
	}
	switch {
	case o.NodeAgent && o.NodeToken == "":
		errs = append(errs, errors.New("the node agent needs a node registration token"))
	case o.NodeAgent:
		if _, err := token.Parse(o.NodeToken); err != nil {
			errs = append(errs, errors.New("node registration token is malformed"))
		}
	case o.NodeToken != "":
		errs = append(errs, errors.New("node registration token given without the node agent"))
	}
	if o.NodeAgent && o.NodeToken != "" && o.NodeToken == o.Token {
		errs = append(errs, errors.New("the node agent must get the node registration token, not the cluster's"))
	}
	if o.Image == "" {
		errs = append(errs, errors.New("agent image is required"))
	} else if !validImage(o.Image) {
		errs = append(errs, fmt.Errorf("agent image %q is not an image reference", o.Image))
	}
	if a := o.AuthEndpoint; a != nil {
		if a.Image != "" && !validImage(a.Image) {
			errs = append(errs, fmt.Errorf("auth endpoint image %q is not an image reference", a.Image))
		}
		if a.Port < 0 || a.Port > 65535 {
			errs = append(errs, fmt.Errorf("auth endpoint port %d is out of range", a.Port))
		}
	}
	return errors.Join(errs...)
}

func validImage(s string) bool {
	return len(s) <= 512 && !strings.Contains(s, "://") && imageRE.MatchString(s)
}

// caChecksum is CAChecksum as the manifest carries it: lower case. Render
// calls it after Validate.
func (o Options) caChecksum() string {
	sum, _ := checksum.Parse(o.CAChecksum)
	return sum
}

// aceImage and acePort apply the ACEOptions defaults.
func (o Options) aceImage() string {
	if o.AuthEndpoint.Image != "" {
		return o.AuthEndpoint.Image
	}
	return o.Image
}

func (o Options) acePort() int32 {
	if o.AuthEndpoint.Port != 0 {
		return o.AuthEndpoint.Port
	}
	return DefaultACEPort
}
