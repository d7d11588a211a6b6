package realnodes

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/test/informer"
)

// openWatch is a `kubectl get -w` through Drover on the ConfigMaps of a
// namespace of its own, whose ConfigMaps the test creates straight at the
// cluster.
type openWatch struct {
	ns    string
	lines chan string
	ended chan error
	seen  []string
}

// startWatch creates namespace ns and ConfigMaps <ns>-0..<before-1>, and
// starts `kubectl get configmaps -w -o name` on it through kc.
func startWatch(ctx context.Context, t *testing.T, kc, ns string, before int) *openWatch {
	t.Helper()
	kubectl(ctx, t, shared.Direct, "create", "namespace", ns)
	w := &openWatch{ns: ns, lines: make(chan string, 256), ended: make(chan error, 1)}
	w.create(ctx, t, 0, before)
	cmd := kubectlCmd(ctx, kc, "-n", ns, "get", "configmaps", "--watch", "-o", "name")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		err := cmd.Wait()
		w.ended <- fmt.Errorf("kubectl get -w ended: %v %s", err, stderr.String())
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	w.expect(ctx, t, 0, before)
	return w
}

// create makes ConfigMaps <ns>-from..<to-1> straight at the cluster.
func (w *openWatch) create(ctx context.Context, t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		kubectl(ctx, t, shared.Direct, "-n", w.ns, "create", "configmap", fmt.Sprintf("%s-%d", w.ns, i))
	}
}

// expect waits for the watch to show ConfigMaps <ns>-from..<to-1>, in that
// order, each once, and nothing else of the test's (the namespace's own
// kube-root-ca.crt may come and go).
func (w *openWatch) expect(ctx context.Context, t *testing.T, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for i := from; i < to; i++ {
		want := fmt.Sprintf("configmap/%s-%d", w.ns, i)
		for {
			var line string
			select {
			case line = <-w.lines:
			case err := <-w.ended:
				t.Fatalf("%v; seen %v, waiting for %s", err, w.seen, want)
			case <-ctx.Done():
				t.Fatalf("the watch did not show %s; seen %v", want, w.seen)
			}
			if !strings.HasPrefix(line, "configmap/"+w.ns+"-") {
				continue
			}
			w.seen = append(w.seen, line)
			if line != want {
				t.Fatalf("the watch showed %s where %s was due (seen %v): an event repeated, lost or out of order", line, want, w.seen)
			}
			break
		}
	}
}

// running fails if kubectl get -w has ended.
func (w *openWatch) running(t *testing.T) {
	t.Helper()
	select {
	case err := <-w.ended:
		t.Errorf("%v; seen %v", err, w.seen)
	default:
	}
}

// informerWatch is a client-go informer through Drover, in protobuf (as
// controllers run), on the ConfigMaps of a namespace, counting the LIST
// requests it makes: a watch that failed and was not resumed would make
// the reflector list again.
type informerWatch struct{ *informer.Informer }

func startInformer(ctx context.Context, t *testing.T, kc, ns string) *informerWatch {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	in, err := informer.Start(ctx, cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Stop)
	return &informerWatch{in}
}

// expect waits until the informer holds ConfigMaps <ns>-0..<n-1>, then
// checks it listed once only.
func (iw *informerWatch) expect(ctx context.Context, t *testing.T, ns string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		have := 0
		for i := range n {
			if iw.Has(ns, fmt.Sprintf("%s-%d", ns, i)) {
				have++
			}
		}
		if have == n {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the informer holds %d of the %d ConfigMaps", have, n)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if n := iw.Lists(); n != 1 {
		t.Errorf("the informer listed %d times; a resumed watch needs no new list", n)
	}
}

// followedLog is `kubectl logs -f` through Drover of a pod that prints
// tick-0, tick-1, ... five times a second.
type followedLog struct {
	lines chan string
	ended chan error
	next  int // the tick expected next
}

// startTicker runs the ticker pod in namespace work and follows its log.
func startTicker(ctx context.Context, t *testing.T, kc string) *followedLog {
	t.Helper()
	cmd := kubectlCmd(ctx, shared.Direct, "-n", "work", "run", "ticker", "--image", busyboxImage, "--restart", "Never",
		"--command", "--", "sh", "-c", "i=0; while :; do echo tick-$i; i=$((i+1)); sleep 0.2; done")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl run ticker: %v\n%s", err, out)
	}
	kubectl(ctx, t, shared.Direct, "-n", "work", "wait", "--for=condition=Ready", "pod/ticker", "--timeout=60s")
	f := &followedLog{lines: make(chan string, 1024), ended: make(chan error, 1)}
	logs := kubectlCmd(ctx, kc, "-n", "work", "logs", "-f", "ticker")
	out, err := logs.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	logs.Stderr = &stderr
	if err := logs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		err := logs.Wait()
		f.ended <- fmt.Errorf("kubectl logs -f ended: %v %s", err, stderr.String())
	}()
	f.expect(ctx, t, 1)
	return f
}

// expect reads k more ticks, each the one after the last: none lost, none
// twice.
func (f *followedLog) expect(ctx context.Context, t *testing.T, k int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for range k {
		select {
		case line := <-f.lines:
			if want := fmt.Sprintf("tick-%d", f.next); line != want {
				t.Fatalf("kubectl logs -f printed %q where %q was due: a line lost or repeated", line, want)
			}
			f.next++
		case err := <-f.ended:
			t.Fatalf("%v (at tick %d)", err, f.next)
		case <-ctx.Done():
			t.Fatalf("no tick-%d", f.next)
		}
	}
}
