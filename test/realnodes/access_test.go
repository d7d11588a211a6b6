package realnodes

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

// webPod returns the name of the web Deployment's pod.
func webPod(ctx context.Context, t *testing.T, kc string) string {
	t.Helper()
	return strings.TrimSpace(kubectl(ctx, t, kc, "-n", "work", "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"))
}

// testAccess: the apiserver forbids a read-only user's exec and
// port-forward, and revoking a token ends its open exec.
func testAccess(t *testing.T, kc, id string) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	pod := webPod(ctx, t, kc)

	t.Run("read-only user: exec and port-forward forbidden", func(t *testing.T) {
		e := shared
		const user, password = "viewer", "viewer-password-1234"
		if err := e.Server.CreateUser(ctx, e.Admin, user, password, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Server.CreateBinding(ctx, e.Admin, harness.Binding{Scope: "cluster", ClusterID: id,
			Role: "read-only", SubjectKind: "user", Subject: user}); err != nil {
			t.Fatal(err)
		}
		vkc, _, _ := userKubeconfig(ctx, t, user, password, id)
		// The binding reaches the cluster as RBAC objects: reading works
		// first, so that the refusals below are the apiserver's verdict on
		// the verbs, not a user without any rights yet.
		waitKubectlOK(ctx, t, vkc, "-n", "work", "get", "pod", pod)
		for _, c := range []struct {
			name string
			args []string
		}{
			{"exec", []string{"-n", "work", "exec", pod, "--", "true"}},
			{"port-forward", []string{"-n", "work", "port-forward", "pod/" + pod, ":8080"}},
		} {
			cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
			out, err := kubectlCmd(cctx, vkc, c.args...).CombinedOutput()
			ccancel()
			if err == nil || !strings.Contains(strings.ToLower(string(out)), "forbidden") {
				t.Errorf("read-only %s: %v, want Forbidden\n%s", c.name, err, out)
				continue
			}
			t.Logf("read-only %s: %s", c.name, firstLine(out))
		}
	})

	t.Run("revoked token ends an open exec", func(t *testing.T) {
		// Another administrator: a second kubeconfig of the same user for
		// the same cluster would replace the token of the first.
		const user, password = "revokee", "revokee-password-1234"
		if err := shared.Server.CreateUser(ctx, shared.Admin, user, password, true); err != nil {
			t.Fatal(err)
		}
		akc, cfg, _ := userKubeconfig(ctx, t, user, password, id)
		var tokenID string
		for _, ai := range cfg.AuthInfos {
			tokenID, _, _ = strings.Cut(ai.Token, ":")
		}
		s := startCat(ctx, t, kubectlCmd, akc, pod)
		if err := shared.Server.Do(ctx, "DELETE", "/v3/tokens/"+tokenID, shared.Admin, nil, nil); err != nil {
			t.Fatal(err)
		}
		revoked := time.Now()
		// Drover ends the exec with a Status on its error channel, which
		// kubectl prints and exits 1 on.
		how := s.waitEnd(t, 5*time.Second, true)
		if !strings.Contains(how, "the token was revoked or expired") {
			t.Errorf("the revoked exec ended with %q; want kubectl to say the token was revoked", how)
		}
		t.Logf("the open exec ended %v after its token was revoked (%s)", time.Since(revoked).Round(time.Millisecond), how)
	})
}

// waitKubectlOK runs kubectl until it succeeds (bounded by ctx).
func waitKubectlOK(ctx context.Context, t *testing.T, kc string, args ...string) {
	t.Helper()
	for {
		out, err := kubectlCmd(ctx, kc, args...).CombinedOutput()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kubectl %v never succeeded: %v\n%s", args, err, out)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func firstLine(b []byte) string {
	l, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return l
}

// openStream is a kubectl process holding a stream open.
type openStream struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *bytes.Buffer
	ended  chan error
}

// startCat opens `kubectl exec -i pod -- cat` and returns once a line sent
// came back, so that the stream is known to be open end to end.
func startCat(ctx context.Context, t *testing.T, run kubectlFn, kc, pod string) *openStream {
	t.Helper()
	s := &openStream{cmd: run(ctx, kc, "-n", "work", "exec", "-i", pod, "--", "cat"), stderr: &bytes.Buffer{}, ended: make(chan error, 1)}
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill() })
	ping := fmt.Sprintf("ping-%d", time.Now().UnixNano())
	if _, err := io.WriteString(s.stdin, ping+"\n"); err != nil {
		t.Fatal(err)
	}
	echoed := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && sc.Text() == ping {
				ok = true
				echoed <- true
			}
		}
		if !ok {
			echoed <- false
		}
		s.ended <- s.cmd.Wait()
	}()
	select {
	case ok := <-echoed:
		if !ok {
			t.Fatalf("kubectl exec -i cat ended before echoing: %v; stderr: %s", <-s.ended, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl exec -i cat echoed nothing in 30s; stderr: %s", s.stderr.String())
	}
	return s
}

// waitEnd waits up to bound for the stream's kubectl to end and returns
// how it ended; with wantErr, ending without an error fails the test.
func (s *openStream) waitEnd(t *testing.T, bound time.Duration, wantErr bool) string {
	t.Helper()
	select {
	case err := <-s.ended:
		if err == nil {
			if wantErr {
				t.Errorf("kubectl %v ended without an error", s.cmd.Args[1:])
			}
			return "exit status 0"
		}
		// kubectl's last line says why it ended.
		lines := strings.Split(strings.TrimSpace(s.stderr.String()), "\n")
		return fmt.Sprintf("%v: %s", err, lines[len(lines)-1])
	case <-time.After(bound):
		s.cmd.Process.Kill()
		t.Fatalf("kubectl %v still open %v after its stream should have ended", s.cmd.Args[1:], bound)
		return ""
	}
}
