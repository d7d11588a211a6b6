package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// version is the part of /version this test bed pins.
type version struct {
	GitVersion, Major, Minor, GitTreeState string
}

var wantVersion = version{GitVersion: KubernetesVersion, Major: "1", Minor: "33", GitTreeState: "clean"}

func TestFindBinariesMissing(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	_, err := FindBinaries()
	if err == nil || !strings.Contains(err.Error(), "run `make testbed`") {
		t.Fatalf("FindBinaries() in an empty dir: error %v, want one that says to run `make testbed`", err)
	}
}

// TestClusters starts two clusters at once and checks what the product
// relies on: version, isolation, kubectl, TokenRequest, restart, stop.
func TestClusters(t *testing.T) {
	bins, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	keptDir := filepath.Join(t.TempDir(), "kept")
	optsList := []Options{
		{Binaries: bins, Name: "a"},               // temporary Dir, removed on Stop
		{Binaries: bins, Name: "b", Dir: keptDir}, // given Dir, kept
	}
	clusters := make([]*Cluster, len(optsList))
	errs := make([]error, len(optsList))
	began := time.Now()
	var wg sync.WaitGroup
	for i, o := range optsList {
		wg.Go(func() {
			s := time.Now()
			clusters[i], errs[i] = Start(ctx, o)
			t.Logf("cluster %s ready in %v", o.Name, time.Since(s).Round(time.Millisecond))
		})
	}
	wg.Wait()
	t.Logf("both clusters ready in %v", time.Since(began).Round(time.Millisecond))
	for i, c := range clusters {
		if c != nil {
			t.Cleanup(func() { _ = c.Stop() })
		}
		if errs[i] != nil {
			t.Fatalf("Start(%s): %v", optsList[i].Name, errs[i])
		}
	}
	a, b := clusters[0], clusters[1]
	if a.URL == b.URL || a.Dir == b.Dir || a.AdminToken == b.AdminToken || string(a.CAData) == string(b.CAData) {
		t.Fatalf("clusters share state: a=%s %s, b=%s %s", a.URL, a.Dir, b.URL, b.Dir)
	}
	cs := map[*Cluster]*kubernetes.Clientset{a: clientset(t, a.RESTConfig()), b: clientset(t, b.RESTConfig())}

	t.Run("version", func(t *testing.T) {
		for _, c := range clusters {
			v, err := cs[c].Discovery().ServerVersion()
			if err != nil {
				t.Fatalf("%s: /version: %v", c.Name, err)
			}
			got := version{v.GitVersion, v.Major, v.Minor, v.GitTreeState}
			if d := cmp.Diff(wantVersion, got); d != "" {
				t.Errorf("%s: /version mismatch (-want +got):\n%s", c.Name, d)
			}
		}
	})

	t.Run("isolation", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-a"}}
		if _, err := cs[a].CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			c          *Cluster
			wantExists bool
		}{{a, true}, {b, false}}
		for _, tt := range tests {
			_, err := cs[tt.c].CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
			if exists := err == nil; exists != tt.wantExists || (err != nil && !apierrors.IsNotFound(err)) {
				t.Errorf("%s: namespace %s: exists=%v err=%v, want exists=%v", tt.c.Name, ns.Name, exists, err, tt.wantExists)
			}
		}
	})

	t.Run("kubectl", func(t *testing.T) {
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			t.Skip("no kubectl in PATH")
		}
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := b.WriteKubeconfig(path); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, kubectl, "version", "-o", "json", "--kubeconfig", path)
		cmd.Env = append(os.Environ(), "KUBECACHEDIR="+t.TempDir())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl version: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
		}
		var got struct {
			ServerVersion struct{ GitVersion, Major, Minor, GitTreeState string } `json:"serverVersion"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("kubectl version output: %v\n%s", err, out)
		}
		sv := got.ServerVersion
		if d := cmp.Diff(wantVersion, version{sv.GitVersion, sv.Major, sv.Minor, sv.GitTreeState}); d != "" {
			t.Errorf("kubectl serverVersion mismatch (-want +got):\n%s\nstderr: %s", d, stderr.String())
		}
	})

	// A ServiceAccount token from a, checked before and after a's restart.
	var saToken string
	wantUser := "system:serviceaccount:robots:robot"
	t.Run("token-request", func(t *testing.T) {
		c := cs[a]
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "robots"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}
		if _, err := c.CoreV1().ServiceAccounts("robots").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		exp := int64(600)
		tr, err := c.CoreV1().ServiceAccounts("robots").CreateToken(ctx, "robot",
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("TokenRequest: %v", err)
		}
		saToken = tr.Status.Token
		if got := whoAmI(ctx, t, a, saToken); got != wantUser {
			t.Errorf("token from a authenticates on a as %q, want %q", got, wantUser)
		}
		if got := whoAmI(ctx, t, b, saToken); got != "" {
			t.Errorf("token from a authenticates on b as %q, want rejection", got)
		}
	})

	t.Run("restart-apiserver", func(t *testing.T) {
		etcdBefore, apiBefore := a.PIDs()
		url := a.URL
		s := time.Now()
		if err := a.RestartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("RestartAPIServer took %v", time.Since(s).Round(time.Millisecond))
		etcdAfter, apiAfter := a.PIDs()
		if a.URL != url || etcdAfter != etcdBefore || apiAfter == apiBefore {
			t.Errorf("after restart: URL %s (was %s), etcd pid %d (was %d), apiserver pid %d (was %d)",
				a.URL, url, etcdAfter, etcdBefore, apiAfter, apiBefore)
		}
		if _, err := clientset(t, a.RESTConfig()).CoreV1().Namespaces().Get(ctx, "only-in-a", metav1.GetOptions{}); err != nil {
			t.Errorf("namespace lost over restart: %v", err)
		}
		if saToken != "" {
			if got := whoAmI(ctx, t, a, saToken); got != wantUser {
				t.Errorf("after restart the token authenticates as %q, want %q", got, wantUser)
			}
		}
	})

	t.Run("stop", func(t *testing.T) {
		tests := []struct {
			c           *Cluster
			wantDirKept bool
		}{{a, false}, {b, true}}
		for _, tt := range tests {
			for range 2 { // idempotent
				if err := tt.c.Stop(); err != nil {
					t.Errorf("%s: Stop: %v", tt.c.Name, err)
				}
			}
			if procs := processesMentioning(t, tt.c.Dir); len(procs) > 0 {
				t.Errorf("%s: processes left after Stop: %v", tt.c.Name, procs)
			}
			_, err := os.Stat(tt.c.Dir)
			if kept := err == nil; kept != tt.wantDirKept {
				t.Errorf("%s: dir %s kept=%v (stat: %v), want kept=%v", tt.c.Name, tt.c.Dir, kept, err, tt.wantDirKept)
			}
			if err := tt.c.RestartAPIServer(ctx); err == nil {
				t.Errorf("%s: RestartAPIServer after Stop succeeded", tt.c.Name)
			}
		}
	})
}

// TestStartFailureCleansUp checks that a kube-apiserver that cannot start
// yields an error with its log tail and leaves nothing behind.
func TestStartFailureCleansUp(t *testing.T) {
	bins, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // so the cluster's temporary Dir is in here
	c, err := Start(t.Context(), Options{Binaries: bins, Name: "broken", ExtraAPIServerArgs: []string{"--no-such-flag"}})
	if err == nil {
		c.Stop()
		t.Fatal("Start with an unknown apiserver flag succeeded")
	}
	if !strings.Contains(err.Error(), "unknown flag: --no-such-flag") {
		t.Errorf("error does not carry the apiserver log tail: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "drover-testbed-*")); len(left) > 0 {
		t.Errorf("temporary dirs left: %v", left)
	}
	if procs := processesMentioning(t, tmp); len(procs) > 0 {
		t.Errorf("processes left: %v", procs)
	}
}

func TestStartT(t *testing.T) {
	c := StartT(t, Options{})
	v, err := clientset(t, c.RESTConfig()).Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != KubernetesVersion {
		t.Errorf("gitVersion %s, want %s", v.GitVersion, KubernetesVersion)
	}
}

func clientset(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// whoAmI returns the user name c's apiserver authenticates token as, or ""
// when it rejects the token.
func whoAmI(ctx context.Context, t *testing.T, c *Cluster, token string) string {
	t.Helper()
	cfg := c.RESTConfig()
	cfg.BearerToken = token
	r, err := clientset(t, cfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if apierrors.IsUnauthorized(err) {
		return ""
	}
	if err != nil {
		t.Fatalf("%s: SelfSubjectReview: %v", c.Name, err)
	}
	return r.Status.UserInfo.Username
}

// processesMentioning lists the processes whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	cmdlines, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) || err != nil {
			continue // ended meanwhile, or not ours to read
		}
		if cl := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cl, s) {
			found = append(found, filepath.Base(filepath.Dir(p))+": "+cl)
		}
	}
	return found
}
