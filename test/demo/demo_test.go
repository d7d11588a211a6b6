package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/proc"
)

// TestDemoWorksAsPrinted runs the demo as `make demo` does (run, with a
// directory of its own), takes the commands from the text it prints and
// runs them as printed, with this machine's kubectl and curl under sh:
// kubectl through Drover (nodes, whoami, a ConfigMap), exec, logs -f,
// port-forward with curl through it, cp into the pod and back, the
// authorized endpoint's whoami, the viewer's allowed and forbidden lines,
// the direct kubeconfig, the login with curl and the agent's logs. Then it
// stops the demo as a signal does and checks that nothing is left: no
// network namespace, cgroup or veth of this process's clusters, no process
// that mentions the demo's directory. Like `make demo`, it needs root and
// fails without it.
func TestDemoWorksAsPrinted(t *testing.T) {
	d := startDemo(t, 1)
	began, o, text, stop := d.began, d.o, d.text, d.stop
	ready := time.Since(began)
	t.Logf("demo ready after %v; it printed:\n%s", ready.Round(time.Millisecond), text)
	leftovers := ourLeftovers(t, o.Dir)
	if len(leftovers) == 0 {
		t.Fatal("no network namespace, cgroup or process of the demo's cluster seen while it runs: the check after stop could not fail")
	}

	p := parsePrinted(t, text)
	checkCommands(t, p)
	commands := time.Since(began) - ready

	stopBegan := time.Now()
	if err := stop(); err != nil {
		t.Errorf("demo after the stop: %v", err)
	}
	stopTook := time.Since(stopBegan)
	// The kernel tears a deleted network namespace down in the background:
	// the root end of its veth pair can outlive `ip netns delete` for a
	// moment.
	stoppedAt := time.Now()
	for {
		left := ourLeftovers(t, o.Dir)
		if len(left) == 0 {
			break
		}
		if time.Since(stoppedAt) > 10*time.Second {
			t.Errorf("left 10s after the stop:\n%s", strings.Join(left, "\n"))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := time.Since(stoppedAt); d > 200*time.Millisecond {
		t.Logf("leftovers were gone %v after the stop returned", d.Round(time.Millisecond))
	}
	t.Logf("timing: ready %v, commands %v, stop %v", ready.Round(time.Millisecond), commands.Round(time.Millisecond),
		stopTook.Round(time.Millisecond))
}

// checkCommands runs the printed commands and checks what each does.
func checkCommands(t *testing.T, p *printedText) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	adminWhoami := regexp.MustCompile(`(?m)^Username\s+admin$`)

	t.Run("through Drover", func(t *testing.T) {
		out := p.mustRun(ctx, t, `^kubectl get nodes$`)
		if n := strings.Count(out, " Ready "); n != 2 {
			t.Errorf("kubectl get nodes: %d Ready nodes, want 2:\n%s", n, out)
		}
		if out := p.mustRun(ctx, t, `^kubectl auth whoami$`); !adminWhoami.MatchString(out) {
			t.Errorf("kubectl auth whoami does not say admin:\n%s", out)
		}
		if out := p.mustRun(ctx, t, `^kubectl create configmap hello `); !strings.Contains(out, "from: drover") {
			t.Errorf("configmap created and read back:\n%s", out)
		}
	})

	t.Run("exec", func(t *testing.T) {
		out := p.mustRun(ctx, t, `^kubectl -n demo exec deploy/hello -- cat /www/index\.html$`)
		if diff := cmp.Diff(helloPage+"\n", out); diff != "" {
			t.Errorf("exec cat of the index page (-want +got):\n%s", diff)
		}
	})

	t.Run("logs -f and port-forward", func(t *testing.T) {
		logs := p.start(ctx, t, `^kubectl -n demo logs -f deploy/hello$`)
		forward := p.start(ctx, t, `^kubectl -n demo port-forward deploy/hello [0-9]+:8080$`)
		if _, err := forward.waitLine(ctx, regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:[0-9]+ -> 8080$`)); err != nil {
			t.Fatalf("port-forward: %v\n%s", err, forward.text())
		}
		// Requests before the curl ones: none are expected, but count.
		all, stderr, err := p.run(ctx, strings.Replace(p.find(t, `^kubectl -n demo logs -f deploy/hello$`), "logs -f", "logs", 1))
		if err != nil {
			t.Fatalf("kubectl logs: %v\n%s", err, stderr)
		}
		before := strings.Count(all, "response:200")
		for i := range 2 {
			if out := p.mustRun(ctx, t, `^curl http://127\.0\.0\.1:[0-9]+/ `); out != helloPage+"\n" {
				t.Errorf("curl %d through port-forward: %q, want the index page", i, out)
			}
		}
		response := regexp.MustCompile(`^\[[^]]*127\.0\.0\.1\]:[0-9]+: response:200$`)
		for n := 1; n <= before+2; n++ {
			if _, err := logs.waitNth(ctx, response, n); err != nil {
				t.Fatalf("logs -f: %v; want %d lines of a response to 127.0.0.1\n%s", err, before+2, logs.text())
			}
		}
	})

	t.Run("cp into the pod and back", func(t *testing.T) {
		in := p.find(t, `^kubectl -n demo cp \S+ \$POD:/tmp/hello\.txt$`)
		back := p.find(t, `^kubectl -n demo cp \$POD:/tmp/hello\.txt \S+$`)
		local, backPath := strings.Fields(in)[4], strings.Fields(back)[5]
		b := make([]byte, 32<<10)
		rand.Read(b)
		data := []byte(hex.EncodeToString(b) + "\n")
		if err := os.WriteFile(local, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p.mustRun(ctx, t, regexp.QuoteMeta(in))
		if out := p.mustRun(ctx, t, `^kubectl -n demo exec deploy/hello -- cat /tmp/hello\.txt$`); out != string(data) {
			t.Errorf("the copied file in the pod: %d bytes, want the %d copied", len(out), len(data))
		}
		p.mustRun(ctx, t, regexp.QuoteMeta(back))
		got, err := os.ReadFile(backPath)
		if err != nil {
			t.Fatal(err)
		}
		if sha256.Sum256(got) != sha256.Sum256(data) {
			t.Errorf("copied back: %d bytes, sha256 %x; sent %d bytes, sha256 %x", len(got), sha256.Sum256(got), len(data), sha256.Sum256(data))
		}
	})

	t.Run("authorized endpoint", func(t *testing.T) {
		if out := p.mustRun(ctx, t, `^kubectl --context demo-ace auth whoami$`); !adminWhoami.MatchString(out) {
			t.Errorf("whoami straight to the apiserver does not say admin:\n%s", out)
		}
	})

	t.Run("viewer", func(t *testing.T) {
		if out := p.mustRun(ctx, t, `^kubectl --kubeconfig \S+ get pods -A +# allowed$`); !strings.Contains(out, "hello-") {
			t.Errorf("the viewer's pod list has no hello pod:\n%s", out)
		}
		out, stderr, err := p.run(ctx, p.find(t, `^kubectl --kubeconfig \S+ create namespace nope +# forbidden$`))
		if err == nil || !strings.Contains(stderr, "Forbidden") {
			t.Errorf("the viewer's create: %v, want Forbidden\n%s%s", err, out, stderr)
		}
	})

	t.Run("direct", func(t *testing.T) {
		if out := p.mustRun(ctx, t, `^kubectl --kubeconfig \S+/direct-kubeconfig get nodes$`); strings.Count(out, " Ready ") != 2 {
			t.Errorf("direct kubectl get nodes:\n%s", out)
		}
	})

	t.Run("login with curl", func(t *testing.T) {
		cmd := strings.Replace(p.find(t, `^curl --cacert \S+ -d .*/v3/login$`), "<password>", p.password, 1)
		if out, stderr, err := p.run(ctx, cmd); err != nil || !strings.Contains(out, `"token"`) {
			t.Errorf("login with curl: %v, want a token\n%s%s", err, out, stderr)
		}
	})

	t.Run("agent logs", func(t *testing.T) {
		if out := p.mustRun(ctx, t, `-n cattle-system logs deploy/cattle-cluster-agent$`); !strings.Contains(out, "tunnel open") {
			t.Errorf("cluster agent's log has no \"tunnel open\":\n%s", out)
		}
	})
}

// demoRun is a demo started by a test.
type demoRun struct {
	began time.Time
	o     *Options
	text  string // what it printed up to "demo ready"
	stop  func() error
}

// startDemo runs the demo as `make demo` does (run, with a directory of its
// own; replicas as REPLICAS=) until it prints "demo ready". Its stop (also
// at the test's end) interrupts it as a signal does and returns what run
// returned.
func startDemo(t *testing.T, replicas int) *demoRun {
	began := time.Now()
	// Short (unix socket paths live under it) and kept when the test
	// fails, with the logs.
	base, err := os.MkdirTemp("", "drover-demo-")
	if err != nil {
		t.Fatal(err)
	}
	o := NewOptions(base)
	o.Dir = filepath.Join(base, "demo")
	o.Replicas = replicas
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(base, "demo.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ctx, interrupt := context.WithCancel(t.Context())
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, o, stdoutW, log)
		stdoutW.Close()
		done <- err
	}()
	stopped := false
	stop := func() error {
		interrupt()
		if stopped {
			return nil
		}
		stopped = true
		return <-done
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("demo: %v", err)
		}
		t.Logf("the demo's log (its last lines):\n%s", proc.LogTail(logPath, 30))
		if t.Failed() {
			t.Logf("logs kept in %s", base)
		} else {
			os.RemoveAll(base)
		}
	})

	text, err := readUntilReady(stdoutR)
	if err != nil {
		stopErr := stop()
		t.Fatalf("demo printed no \"demo ready\": %v (run: %v)\n%s", err, stopErr, text)
	}
	return &demoRun{began: began, o: o, text: text, stop: stop}
}

// readUntilReady reads the demo's output until its "demo ready" line,
// then drains the rest in the background.
func readUntilReady(r io.Reader) (string, error) {
	var text strings.Builder
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		text.WriteString(line)
		if line == "demo ready\n" {
			go io.Copy(io.Discard, br)
			return text.String(), nil
		}
		if err != nil {
			return text.String(), err
		}
	}
}

// TestDemoReplicas runs `make demo REPLICAS=3`: three servers on a
// PostgreSQL behind HAProxy. It kills them as printed, one after another,
// down to one, each time running the printed `kubectl get nodes` with the
// Drover kubeconfig; then an exec through the last replica, and the viewer
// still refused what it may not do.
func TestDemoReplicas(t *testing.T) {
	d := startDemo(t, 3)
	t.Logf("demo with replicas ready after %v", time.Since(d.began).Round(time.Millisecond))
	p := parsePrinted(t, d.text)
	b, err := os.ReadFile(filepath.Join(d.o.Dir, "replicas"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 3 ||
		!regexp.MustCompile(`^[0-9]+ https://[0-9.]+:[0-9]+$`).MatchString(lines[0]) {
		t.Fatalf("%s: %q, want 3 lines of <pid> <https URL>", filepath.Join(d.o.Dir, "replicas"), lines)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for i := 1; i <= 2; i++ {
		cmd := p.find(t, fmt.Sprintf(`^kill \$\(sed -n %dp .*kubectl get nodes$`, i))
		killed := time.Now()
		var out, stderr string
		for {
			if out, stderr, err = p.run(ctx, cmd); err == nil && strings.Count(out, " Ready ") == 2 {
				break
			}
			if time.Since(killed) > time.Minute {
				t.Fatalf("after killing replica %d: %s: %v\n%s%s", i, cmd, err, out, stderr)
			}
			cmd = `kubectl get nodes` // killed already: only the check again
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("killed replica %d: kubectl get nodes answered %v later", i, time.Since(killed).Round(time.Millisecond))
	}
	out := p.mustRun(ctx, t, `^kubectl -n demo exec deploy/hello -- cat /www/index\.html$`)
	if out != helloPage+"\n" {
		t.Errorf("exec through the last replica: %q", out)
	}
	if _, stderr, err := p.run(ctx, p.find(t, `create namespace nope`)); err == nil || !strings.Contains(stderr, "forbidden") {
		t.Errorf("the viewer's forbidden line through the last replica: %v %s", err, stderr)
	}
	if err := d.stop(); err != nil {
		t.Errorf("demo after the stop: %v", err)
	}
}
