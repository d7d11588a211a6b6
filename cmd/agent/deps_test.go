package main

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

const module = "github.com/drover-dev/drover/"

// agentNeeds is every package of this module the agent binary may link,
// and why. Anything else of the module (store, authn, tunnel, api,
// authproxy, server, metrics, ...) is the server's and fails the test; so
// does an entry here the agent no longer links, so the list stays true.
var agentNeeds = map[string]string{
	"cmd/agent":        "the command itself: flags and main",
	"pkg/agent":        "the agent: CA pinning, downstream bootstrap, the tunnel's client side, dial policy, its metrics",
	"pkg/agentapi":     "the wire contract with the server: connect path, params header, kinds, liveness rules",
	"pkg/capin":        "the server CA pin by checksum on first contact (shared with the drover command)",
	"pkg/flow":         "flow control of each tunnel stream (the agent bridges its apiserver connections); standard library only",
	"pkg/token":        "registration token format (the agent checks its token file) and Bearer (kube-api-auth)",
	"pkg/ids":          "id formats, for the id half of a token (token.Parse); standard library only",
	"pkg/checksum":     "the --ca-checksum format (either case, compared in lower case) and the CA pin; standard library only",
	"pkg/downstream":   "names of Drover's objects downstream, which the cluster agent creates",
	"pkg/authendpoint": "kube-api-auth, the `drover-agent auth-endpoint` subcommand run in the downstream cluster",
	"pkg/cmdline":      "the command line conventions every binary shares (cobra, single-dash long flags, exit codes)",
	"pkg/version":      "--version and the start log line: the build's stamps; standard library only",
}

// serverOnly are third-party modules only the server has a use for; an
// agent that links one of them has pulled in server code.
var serverOnly = map[string]string{
	"modernc.org/sqlite":        "the server's store; modernc.org/libc comes with it",
	"github.com/gorilla/mux":    "the server's router",
	"github.com/golang-jwt/jwt": "login session tokens",
	"github.com/coreos/go-oidc": "OIDC identity provider",
	"github.com/go-ldap/ldap":   "LDAP identity provider",
}

// github.com/prometheus/client_golang is allowed: the agent serves its own
// drover_agent_* metrics on --health-listen (docs/api.md), which is what
// tells an operator a tunnel flaps. It costs the agent its registry and
// promhttp, not the server's metrics.

// TestAgentLinksNoServerCode fails if the agent binary links a package of
// this module that is not in agentNeeds, or a server-only library.
func TestAgentLinksNoServerCode(t *testing.T) {
	deps := listDeps(t)
	if !slices.Contains(deps, module+"cmd/agent") {
		t.Fatalf("go list -deps did not list cmd/agent itself; got %d packages", len(deps))
	}
	linked := map[string]bool{}
	for _, p := range deps {
		if rel, ok := strings.CutPrefix(p, module); ok {
			linked[rel] = true
			if _, ok := agentNeeds[rel]; !ok {
				t.Errorf("the agent links %s, which is not on the allow-list (server code? see agentNeeds)", p)
			}
		}
		for mod, why := range serverOnly {
			if p == mod || strings.HasPrefix(p, mod+"/") {
				t.Errorf("the agent links %s (%s)", p, why)
			}
		}
	}
	for rel := range agentNeeds {
		if !linked[rel] {
			t.Errorf("the allow-list names %s%s, which the agent no longer links: remove it", module, rel)
		}
	}
}

// listDeps returns the import paths cmd/agent links, from `go list -deps`.
func listDeps(t *testing.T) []string {
	t.Helper()
	// go test puts its own GOROOT/bin first on PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Test-only imports are left out (-deps without -test): what counts is
	// what the binary links.
	cmd := exec.CommandContext(ctx, goBin, "list", "-deps", "-f", "{{.ImportPath}}", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}
	return strings.Fields(string(out))
}
