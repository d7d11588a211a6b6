package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/test/harness"
)

// quickstartListen is the address the quickstart's commands name: the
// server must listen there for them to run as written.
const quickstartListen = "127.0.0.1:8443"

// quickstartStep is one command of the README's quickstart, in order: has
// is a part of it that says it is the command the step expects; fill gives
// its placeholders' values (placeholder, value, …), each of which must be
// in the command; the agent runs in the background; before and check run
// around it (check gets its standard output, or the value it assigned).
type quickstartStep struct {
	has        string
	fill       func() []string
	background bool
	before     func(t *testing.T)
	check      func(t *testing.T, out string)
}

// quickstart is the state of a run: a directory that plays the repository
// root (bin/ holds the test's binaries; the server keeps its state in
// data/), a home whose ~/.kube/config is the test bed's cluster, and the
// shell variables the commands assigned.
type quickstart struct {
	ctx      context.Context
	dir      string
	home     string
	vars     map[string]string
	password string // the admin password the first start printed
	server   *harness.Process
	agent    *harness.Process
	api      *harness.Server // the test's own client of the same server
}

// TestReadmeQuickstart runs the shell blocks of README.md's Quickstart
// section as written, with bash, against a server started the way `make
// run` starts it, on a fresh data directory. Only the placeholders in angle
// brackets are filled, from what earlier commands printed; `make run` and
// `make test` themselves are played by the test.
func TestReadmeQuickstart(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "kubectl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README quickstart needs %s on PATH (apt-get install curl jq; kubectl): %v", tool, err)
		}
	}
	l, err := net.Listen("tcp", quickstartListen)
	if err != nil {
		t.Fatalf("the quickstart's commands name %s, which is in use: %v", quickstartListen, err)
	}
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel) // after the cleanups below, which use it
	blocks := readmeQuickstart(t)
	if len(blocks) == 0 || len(blocks[0]) != 2 || !strings.HasPrefix(blocks[0][0], "make run ") || !strings.HasPrefix(blocks[0][1], "make test ") {
		t.Fatalf("the quickstart's first block is not `make run` and `make test`: %q", blocks)
	}
	q := newQuickstart(ctx, t)
	q.startServer(t, true)
	t.Cleanup(func() { q.server.Stop(10 * time.Second) })

	var (
		firstPassword, changedPassword, resetPassword = q.password, "changed-password-0123", "reset-password-0123"
		clusterID                                     string
		reg                                           harness.Registration
		login                                         string // the login command, run again after the reset
		bindingID                                     string
	)
	password := func(p string) func() []string { return func() []string { return []string{"<the password>", p} } }
	steps := []quickstartStep{
		{has: "CA=data/tls/ca.crt", check: func(t *testing.T, out string) {
			ca, err := os.ReadFile(filepath.Join(q.dir, out))
			if err != nil {
				t.Fatalf("$CA: %v", err)
			}
			q.api = &harness.Server{URL: "https://" + quickstartListen, CAPEM: ca}
		}},
		{has: "/v3/login", fill: password(firstPassword), check: func(t *testing.T, out string) { checkToken(t, out) }},
		{has: `/v3/clusters -d '{"name":"prod"}'`, check: func(t *testing.T, out string) {
			var ans struct {
				Cluster      struct{ ID, Name string }
				Registration harness.Registration
			}
			if err := json.Unmarshal([]byte(out), &ans); err != nil {
				t.Fatalf("create cluster answered %q: %v", out, err)
			}
			if ans.Cluster.ID == "" || ans.Cluster.Name != "prod" || ans.Registration.Token == "" ||
				ans.Registration.CAChecksum != checksum.Of(q.api.CAPEM) {
				t.Fatalf("create cluster answered %s", out)
			}
			clusterID, reg = ans.Cluster.ID, ans.Registration
		}},
		{has: "> token", fill: func() []string { return []string{"<registration token>", reg.Token} }},
		{has: "bin/drover-agent", background: true,
			fill: func() []string { return []string{"<caChecksum>", reg.CAChecksum} },
			check: func(t *testing.T, _ string) {
				if err := q.api.WaitConnected(ctx, q.vars["TOKEN"], clusterID, "cluster"); err != nil {
					t.Fatalf("%v (agent log %s)", err, q.agent.LogPath)
				}
			}},
		{has: "/v3/kubeconfig"},
		{has: "kubectl --kubeconfig kubeconfig get ns", check: func(t *testing.T, out string) {
			if !regexp.MustCompile(`(?m)^default\s+Active\s`).MatchString(out) {
				t.Fatalf("kubectl get ns through Drover does not list default:\n%s", out)
			}
		}},
		{has: "bin/drover login",
			fill: func() []string { return []string{"<the password>", firstPassword, "<caChecksum>", reg.CAChecksum} },
			check: func(t *testing.T, out string) {
				if !strings.Contains(out, "Logged in to https://"+quickstartListen+" as admin") {
					t.Fatalf("drover login printed %q", out)
				}
			}},
		{has: "bin/drover whoami", check: func(t *testing.T, out string) {
			if !regexp.MustCompile(`(?m)^https://` + regexp.QuoteMeta(quickstartListen) + `\s+admin\s+true\s`).MatchString(out) {
				t.Fatalf("drover whoami printed %q", out)
			}
		}},
		{has: "bin/drover clusters", check: func(t *testing.T, out string) {
			if !regexp.MustCompile(`(?m)^prod\s+` + regexp.QuoteMeta(clusterID) + `\s+active\s+cluster\s`).MatchString(out) {
				t.Fatalf("drover clusters printed %q", out)
			}
		}},
		{has: "bin/drover kubeconfig > drover-kubeconfig"},
		{has: "kubectl --kubeconfig drover-kubeconfig get ns", check: func(t *testing.T, out string) {
			if !regexp.MustCompile(`(?m)^default\s+Active\s`).MatchString(out) {
				t.Fatalf("kubectl get ns through the credential plugin does not list default:\n%s", out)
			}
		}},
		{has: "bin/drover logout", check: func(t *testing.T, out string) {
			if !strings.Contains(out, "Logged out of https://"+quickstartListen) {
				t.Fatalf("drover logout printed %q", out)
			}
		}},
		{has: "/v3/users/me/password",
			fill: func() []string {
				return []string{"<the password>", firstPassword, "<a new one, 12-72 bytes>", changedPassword}
			},
			check: func(t *testing.T, out string) {
				var ans struct{ Revoked *int }
				if err := json.Unmarshal([]byte(out), &ans); err != nil || ans.Revoked == nil {
					t.Fatalf("the password change answered %q (%v)", out, err)
				}
				q.checkLogin(t, firstPassword, false)
				q.checkLogin(t, changedPassword, true)
			}},
		{has: "reset-admin-password",
			fill:   func() []string { return []string{"<a new one>", resetPassword} },
			before: func(t *testing.T) { q.server.Stop(10 * time.Second) },
			check: func(t *testing.T, out string) {
				if !strings.Contains(out, `The password of admin "admin" is reset`) {
					t.Errorf("reset-admin-password printed %q", out)
				}
				q.startServer(t, false)
				q.checkLogin(t, changedPassword, false)
				// The reset ended the admin's login sessions: log in again,
				// as the README says, with the login command.
				checkToken(t, q.run(t, login, []string{"<the password>", resetPassword}))
				if err := q.api.WaitConnected(ctx, q.vars["TOKEN"], clusterID, "cluster"); err != nil {
					t.Fatalf("the agent did not reconnect to the restarted server: %v", err)
				}
			}},
		{has: `'{"username":"bob",`, check: func(t *testing.T, out string) {
			var ans struct{ ID, Username string }
			if err := json.Unmarshal([]byte(out), &ans); err != nil || ans.ID == "" || ans.Username != "bob" {
				t.Fatalf("creating bob answered %q (%v)", out, err)
			}
		}},
		{has: "/v3/bindings", fill: func() []string { return []string{"<id>", clusterID} }, check: func(t *testing.T, out string) {
			var ans struct {
				ID, ClusterID, Role, Username string
			}
			if err := json.Unmarshal([]byte(out), &ans); err != nil || ans.ID == "" || ans.ClusterID != clusterID ||
				ans.Role != "read-only" || ans.Username != "bob" {
				t.Fatalf("bob's binding: the answer was %q (%v)", out, err)
			}
			bindingID = ans.ID
			t.Cleanup(func() { q.deleteBinding(t, bindingID) })
			waitBindingObjects(ctx, t, directClient(t), []string{bindingID})
		}},
	}
	var cmds []string
	for _, b := range blocks[1:] {
		cmds = append(cmds, b...)
	}
	if len(cmds) != len(steps) {
		t.Fatalf("the quickstart has %d commands after make run and make test, the test expects %d: update the steps\n%s",
			len(cmds), len(steps), strings.Join(cmds, "\n"))
	}
	for i, s := range steps {
		if !strings.Contains(cmds[i], s.has) {
			t.Fatalf("quickstart command %d is %q, the test expects one with %q: update the steps", i+1, cmds[i], s.has)
		}
	}
	login = cmds[1]
	for i, s := range steps {
		if t.Failed() {
			return
		}
		if s.before != nil {
			s.before(t)
		}
		var fill []string
		if s.fill != nil {
			fill = s.fill()
		}
		var out string
		start := time.Now()
		if s.background {
			q.startAgent(t, cmds[i], fill)
		} else {
			out = q.run(t, cmds[i], fill)
		}
		if s.check != nil {
			s.check(t, out)
		}
		t.Logf("command %d (%s…): %.1fs", i+1, s.has, time.Since(start).Seconds())
	}
}

// readmeQuickstart returns the commands of each sh block of README.md's
// Quickstart section (a command continued with a backslash is one; comment
// lines are left out).
func readmeQuickstart(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Quickstart\n")
	if !ok {
		t.Fatal("README.md has no ## Quickstart section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var blocks [][]string
	var block []string
	in, cont := false, false
	for _, line := range strings.Split(section, "\n") {
		switch {
		case !in && line == "```sh":
			in, block = true, []string{}
		case in && line == "```":
			in = false
			blocks = append(blocks, block)
		case !in || strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "":
		case cont:
			block[len(block)-1] += "\n" + line
		default:
			block = append(block, line)
		}
		cont = in && strings.HasSuffix(line, `\`)
	}
	return blocks
}

func newQuickstart(ctx context.Context, t *testing.T) *quickstart {
	t.Helper()
	q := &quickstart{ctx: ctx, dir: t.TempDir(), home: t.TempDir(), vars: map[string]string{}}
	for _, d := range []string{filepath.Join(q.dir, "bin"), filepath.Join(q.dir, "logs"), filepath.Join(q.home, ".kube")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		filepath.Join(q.dir, "bin", "drover-server"): shared.bins.Server,
		filepath.Join(q.dir, "bin", "drover-agent"):  shared.bins.Agent,
		filepath.Join(q.dir, "bin", "drover"):        shared.bins.CLI,
		filepath.Join(q.home, ".kube", "config"):     filepath.Join(shared.dir, "direct-kubeconfig"),
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	return q
}

// startServer runs bin/drover-server with the flags `make run` passes, and
// on the first start takes the admin password it prints.
func (q *quickstart) startServer(t *testing.T, first bool) {
	t.Helper()
	p, err := harness.StartIn(q.dir, "drover-server", filepath.Join(q.dir, "bin", "drover-server"),
		[]string{"--data-dir", "data", "--listen", quickstartListen}, nil, filepath.Join(q.dir, "logs", "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	q.server = p
	ctx, cancel := context.WithTimeout(q.ctx, time.Minute)
	defer cancel()
	if _, err := p.WaitLine(ctx, "Drover is serving at https://"+quickstartListen+" "); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitLine(ctx, "CA checksum:"); err != nil {
		t.Fatal(err)
	}
	if !first {
		return
	}
	line, err := p.WaitLine(ctx, "password: ")
	if err != nil {
		t.Fatal(err)
	}
	_, q.password, _ = strings.Cut(line, "password: ")
}

// filled is cmd with its placeholders replaced by fill (placeholder, value,
// …); each must be in cmd, and no other may remain.
func filled(t *testing.T, cmd string, fill []string) string {
	t.Helper()
	for i := 0; i < len(fill); i += 2 {
		if !strings.Contains(cmd, fill[i]) || fill[i+1] == "" {
			t.Fatalf("%q: no placeholder %s, or nothing to fill it with (%q)", cmd, fill[i], fill[i+1])
		}
	}
	out := strings.NewReplacer(fill...).Replace(cmd)
	if p := regexp.MustCompile(`<[a-zA-Z][^<>']*>`).FindString(out); p != "" {
		t.Fatalf("%q: the test does not fill the placeholder %s", cmd, p)
	}
	return out
}

// env is the commands' environment: PATH, the test's HOME, and the shell
// variables earlier commands assigned.
func (q *quickstart) env() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + q.home}
	for k, v := range q.vars {
		env = append(env, k+"="+v)
	}
	return env
}

var assignment = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=`)

// run runs cmd with bash in the quickstart's directory and returns its
// standard output, or for an assignment the value it assigned (kept for the
// commands that follow). A non-zero exit fails the test.
func (q *quickstart) run(t *testing.T, cmd string, fill []string) string {
	t.Helper()
	cmd = filled(t, cmd, fill)
	script, name := cmd, ""
	env := q.env()
	valueFile := filepath.Join(t.TempDir(), "value")
	if m := assignment.FindStringSubmatch(cmd); m != nil {
		name = m[1]
		script += "\nrc=$?; printf '%s' \"$" + name + "\" >\"$QUICKSTART_VALUE\"; exit $rc"
		env = append(env, "QUICKSTART_VALUE="+valueFile)
	}
	ctx, cancel := context.WithTimeout(q.ctx, time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "bash", "-c", script)
	c.Dir, c.Env = q.dir, env
	var stdout, stderr strings.Builder
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("%s\n%v\nstdout: %s\nstderr: %s", cmd, err, stdout.String(), stderr.String())
	}
	if name == "" {
		return stdout.String()
	}
	v, err := os.ReadFile(valueFile)
	if err != nil {
		t.Fatal(err)
	}
	q.vars[name] = string(v)
	return string(v)
}

// startAgent starts cmd with bash in the background; it is stopped when the
// test ends.
func (q *quickstart) startAgent(t *testing.T, cmd string, fill []string) {
	t.Helper()
	p, err := harness.StartIn(q.dir, "quickstart-agent", "bash", []string{"-c", filled(t, cmd, fill)}, q.env(),
		filepath.Join(q.dir, "logs", "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	q.agent = p
	t.Cleanup(func() { p.Stop(5 * time.Second) })
}

func checkToken(t *testing.T, token string) {
	t.Helper()
	if token == "" || token == "null" {
		t.Fatalf("the login gave no token: TOKEN=%q", token)
	}
}

// checkLogin checks that admin can, or cannot, log in with password.
func (q *quickstart) checkLogin(t *testing.T, password string, want bool) {
	t.Helper()
	_, err := q.api.Login(q.ctx, "admin", password)
	var apiErr *harness.APIError
	switch {
	case want && err != nil:
		t.Errorf("admin cannot log in with the new password: %v", err)
	case !want && (!errors.As(err, &apiErr) || apiErr.Code != http.StatusUnauthorized):
		t.Errorf("admin's login with a replaced password: %v, want 401", err)
	}
}

// deleteBinding removes bob's binding, and with it its objects in the test
// bed's cluster, which other tests share.
func (q *quickstart) deleteBinding(t *testing.T, id string) {
	if err := q.api.Do(q.ctx, http.MethodDelete, "/v3/bindings/"+id, q.vars["TOKEN"], nil, nil); err != nil {
		t.Errorf("delete bob's binding: %v", err)
		return
	}
	direct := directClient(t)
	sel := metav1.ListOptions{LabelSelector: downstream.BindingLabel + "=" + id}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		crbs, err1 := direct.RbacV1().ClusterRoleBindings().List(q.ctx, sel)
		rbs, err2 := direct.RbacV1().RoleBindings("").List(q.ctx, sel)
		if err1 == nil && err2 == nil && len(crbs.Items)+len(rbs.Items) == 0 {
			return
		}
	}
	t.Errorf("the objects of bob's binding %s stayed in the shared cluster", id)
}
