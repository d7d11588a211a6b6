package realnodes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testExecTTY runs `kubectl exec -it` under util-linux script, which gives
// kubectl a terminal of its own, and types into it.
func testExecTTY(ctx context.Context, t *testing.T, kc, pod string) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	kubectlLine := fmt.Sprintf("kubectl --kubeconfig '%s' -n work exec -it %s -- sh", kc, pod)
	cmd := exec.CommandContext(ctx, "script", "-qec", kubectlLine, "/dev/null")
	cmd.Env = kubectlEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The terminal echoes what is typed: the answers are told apart from
	// the echo by text that only the shell's evaluation produces. stdin
	// stays open until the shell exits (Wait closes it).
	if _, err := io.WriteString(stdin, "tty\necho hi-$((6*7)) pid-$$\nexit 3\n"); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	text := strings.ReplaceAll(out.String(), "\r", "")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("script/kubectl exec -it: %v, want exit status 3 (the shell's)\n%s", err, text)
	}
	if !regexp.MustCompile(`/dev/pts/[0-9]+\n`).MatchString(text) {
		t.Errorf("tty in the pod did not name a /dev/pts device:\n%s", text)
	}
	if !regexp.MustCompile(`hi-42 pid-[0-9]+\n`).MatchString(text) {
		t.Errorf("no answer to the echo typed into the terminal:\n%s", text)
	}
}

// testAttach attaches to a container that reads its stdin and checks that a
// line sent comes back in the attached output and in the logs.
func testAttach(ctx context.Context, t *testing.T, run kubectlFn, kc, pod string) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	kubectl(ctx, t, kc, "-n", "work", "wait", "--for=jsonpath={.status.phase}=Running", "pod/"+pod, "--timeout=60s")
	cmd := run(ctx, kc, "-n", "work", "attach", "-i", pod)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ping := fmt.Sprintf("ping-%d", time.Now().UnixNano())
	if _, err := io.WriteString(stdin, ping+"\n"); err != nil {
		t.Fatal(err)
	}
	// Each line the container echoes; "bye" once the ping came back ends
	// the container, and with it the attach.
	var lines []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() == "got-"+ping {
			if _, err := io.WriteString(stdin, "bye\n"); err != nil {
				t.Errorf("write bye: %v", err)
			}
		}
	}
	err = cmd.Wait()
	if !slices.Contains(lines, "got-"+ping) {
		t.Fatalf("kubectl attach: %v; output %q, want a line %q; stderr: %s", err, lines, "got-"+ping, stderr.String())
	}
	if err != nil {
		t.Errorf("kubectl attach ended with %v; stderr: %s", err, stderr.String())
	}
	logs := kubectl(ctx, t, kc, "-n", "work", "logs", pod)
	if !strings.Contains(logs, "got-"+ping+"\n") {
		t.Errorf("logs of the attached container: %q, want a line %q", logs, "got-"+ping)
	}
}

// serverLogSize is the size of the server's log now: the lines after it
// are those of what follows.
func serverLogSize(t *testing.T) int64 {
	t.Helper()
	st, err := os.Stat(filepath.Join(shared.Server.DataDir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// proxiedLine is a debug line "proxied" of the server.
type proxiedLine struct {
	Msg, Namespace, Via, Node, Verb, Subresource, Upgrade string
	Code                                                  int
}

// proxiedSince returns the server's "proxied" lines written after offset
// from.
func proxiedSince(t *testing.T, from int64) []proxiedLine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shared.Server.DataDir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []proxiedLine
	for _, line := range bytes.Split(b[min(from, int64(len(b))):], []byte("\n")) {
		var rec proxiedLine
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "proxied" {
			out = append(out, rec)
		}
	}
	return out
}

// testUpgradesSeen reads the server's debug lines, from offset from, for
// the streams opened in namespace work: every exec, attach and
// port-forward came as an upgrade to protocol that the kubelet accepted (a
// refusal and a fallback to the other protocol would show as another line).
func testUpgradesSeen(ctx context.Context, t *testing.T, from int64, protocol string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	want := []string{"attach", "exec", "portforward"}
	for {
		var seen []proxiedLine
		kinds := map[string]bool{}
		for _, rec := range proxiedSince(t, from) {
			if rec.Namespace != "work" || !slices.Contains(want, rec.Subresource) {
				continue
			}
			seen = append(seen, rec)
			kinds[rec.Subresource] = true
		}
		if len(kinds) == len(want) {
			for _, s := range seen {
				if s.Upgrade != protocol || s.Code != 101 {
					t.Errorf("%s: upgrade %q answered %d, want %s answered 101", s.Subresource, s.Upgrade, s.Code, protocol)
				}
			}
			t.Logf("%d streams, all %s", len(seen), protocol)
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("proxied streams in the server log: %+v, want each of %v", seen, want)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
