package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// grantRule lets user impersonate apiGroup resource/name in the shared
// cluster, directly: cluster-wide, or in namespace if not "". kubectl
// create role cannot name uids or userextras (they are no API resources),
// so the objects are applied from YAML. The grant is removed when owner
// ends.
func grantRule(ctx context.Context, t, owner *testing.T, direct, user, namespace, apiGroup, resource, name string) {
	t.Helper()
	role := strings.NewReplacer("/", "-", ".", "-", ":", "-").Replace(
		strings.ToLower("e2e-" + user + "-" + namespace + "-" + resource + "-" + name))
	kind, binding, meta := "ClusterRole", "ClusterRoleBinding", fmt.Sprintf("name: %q", role)
	if namespace != "" {
		kind, binding, meta = "Role", "RoleBinding", fmt.Sprintf("name: %q\n  namespace: %q", role, namespace)
	}
	yaml := fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: %[1]s
metadata:
  %[3]s
rules:
- apiGroups: [%[4]q]
  resources: [%[5]q]
  resourceNames: [%[6]q]
  verbs: [impersonate]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: %[2]s
metadata:
  %[3]s
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: %[1]s
  name: %[7]q
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: %[8]q
`, kind, binding, meta, apiGroup, resource, name, role, user)
	// Not t.TempDir(): kubectl -f splits a path at commas, and a subtest's
	// name may have one.
	dir, err := os.MkdirTemp("", "e2e-grant-")
	if err != nil {
		t.Fatal(err)
	}
	owner.Cleanup(func() { os.RemoveAll(dir) })
	file := filepath.Join(dir, role+".yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(ctx, t, direct, "apply", "-f", file); err != nil {
		t.Fatalf("grant %s: %v %s", role, err, out)
	}
	owner.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		kubectl(ctx, owner, direct, "delete", "-f", file, "--ignore-not-found")
	})
}

// selfReview sends a SelfSubjectReview to the shared cluster through
// Drover with bearer and the identity headers h (kubectl 1.32 has no
// --as-user-extra), and returns the code and either the user info or the
// Status message.
func selfReview(ctx context.Context, t *testing.T, bearer string, h http.Header) (int, whoami, string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(shared.server.CAPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	url := shared.server.URL + "/k8s/clusters/" + shared.clusterID + "/apis/authentication.k8s.io/v1/selfsubjectreviews"
	body := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		var st struct{ Message string }
		json.Unmarshal(b, &st)
		return resp.StatusCode, whoami{}, st.Message
	}
	var r struct {
		Status struct {
			UserInfo whoami `json:"userInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("self review %s: %v", b, err)
	}
	return resp.StatusCode, r.Status.UserInfo, ""
}

// rulesList is kubectl auth can-i --list in a namespace, its lines sorted.
func rulesList(ctx context.Context, t *testing.T, kc string, flags ...string) []string {
	t.Helper()
	out, err := kubectl(ctx, t, kc, append(flags, "auth", "can-i", "--list", "-n", "default")...)
	if err != nil {
		t.Fatalf("can-i --list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(lines)
	return lines
}

// TestNestedImpersonationKinds: through Drover and real kubectl, --as a
// ServiceAccount and --as-uid (and, over HTTP, Impersonate-Extra-*) reach
// the cluster as exactly what was asked, for an admin at once and for a
// member only once the cluster grants that very part; the ServiceAccount
// has its own rights and no more (the same list as the apiserver gives an
// impersonation made directly); reserved ServiceAccounts and Drover's
// extras are refused.
func TestNestedImpersonationKinds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admin := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})
	noor := newMember(ctx, t, shared.server, shared.adminToken, "noor", shared.clusterID)
	kc := writeKubeconfig(ctx, t, noor.token, []string{shared.clusterID})
	direct := filepath.Join(shared.dir, "direct-kubeconfig")

	const sa = "system:serviceaccount:default:e2e-builder"
	saGroups := []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}
	orig := func(u string) map[string][]string { return map[string][]string{"drover.dev/original-user": {u}} }
	// The ServiceAccount may read pods in default, nothing more.
	for _, args := range [][]string{
		{"create", "serviceaccount", "e2e-builder", "-n", "default"},
		{"create", "role", "e2e-pod-reader", "-n", "default", "--verb=get,list", "--resource=pods"},
		{"create", "rolebinding", "e2e-builder-reads-pods", "-n", "default", "--role=e2e-pod-reader", "--serviceaccount=default:e2e-builder"},
	} {
		if _, err := kubectl(ctx, t, direct, args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		kubectl(ctx, t, direct, "delete", "-n", "default", "rolebinding/e2e-builder-reads-pods", "role/e2e-pod-reader",
			"serviceaccount/e2e-builder", "--ignore-not-found")
	})
	wantRules := rulesList(ctx, t, direct, "--as", sa)

	steps := []struct {
		name  string
		grant []string // namespace, apiGroup, resource, name: granted to noor first
		kc    string
		flags []string    // kubectl; or
		h     http.Header // HTTP
		want  *whoami     // nil: refused
		err   string      // refused: in stderr or the message
	}{
		{name: "admin --as a ServiceAccount", kc: admin, flags: []string{"--as", sa},
			want: &whoami{Username: sa, Groups: saGroups, Extra: orig("admin")}},
		{name: "admin --as jane --as-uid 1000", kc: admin, flags: []string{"--as", "jane", "--as-uid", "1000"},
			want: &whoami{Username: "jane", UID: "1000", Groups: []string{"system:authenticated"}, Extra: orig("admin")}},
		{name: "admin --as jane with an extra (HTTP)", kc: admin,
			h:    http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Example.com%2fteam": {"blue"}},
			want: &whoami{Username: "jane", Groups: []string{"system:authenticated"}, Extra: map[string][]string{"drover.dev/original-user": {"admin"}, "example.com/team": {"blue"}}}},
		{name: "admin --as a kube-system ServiceAccount: refused", kc: admin, flags: []string{"--as", "system:serviceaccount:kube-system:default"},
			err: `ServiceAccounts of namespace "kube-system" are reserved`},
		{name: "admin forging a Drover extra (HTTP): refused", kc: admin,
			h:   http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Drover.dev%2foriginal-user": {"nobody"}},
			err: `Drover sets its own extras: extra "drover.dev/original-user" may not be asked for`},
		{name: "member --as a ServiceAccount without the right", kc: kc, flags: []string{"--as", sa},
			err: `serviceaccounts "e2e-builder" is forbidden: User "noor" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "default"`},
		{name: "member granted serviceaccounts/e2e-builder in default", grant: []string{"default", "", "serviceaccounts", "e2e-builder"},
			kc: kc, flags: []string{"--as", sa}, want: &whoami{Username: sa, Groups: saGroups, Extra: orig("noor")}},
		{name: "member --as the same name in another namespace", kc: kc, flags: []string{"--as", "system:serviceaccount:e2e-other:e2e-builder"},
			err: `serviceaccounts "e2e-builder" is forbidden: User "noor" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "e2e-other"`},
		{name: "member granted users/jane, --as-uid without the right", grant: []string{"", "", "users", "jane"},
			kc: kc, flags: []string{"--as", "jane", "--as-uid", "1000"},
			err: `uids.authentication.k8s.io "1000" is forbidden: User "noor" cannot impersonate resource "uids" in API group "authentication.k8s.io"`},
		{name: "member granted uids/1000", grant: []string{"", "authentication.k8s.io", "uids", "1000"},
			kc: kc, flags: []string{"--as", "jane", "--as-uid", "1000"},
			want: &whoami{Username: "jane", UID: "1000", Groups: []string{"system:authenticated"}, Extra: orig("noor")}},
		{name: "member with an extra without the right (HTTP)", kc: kc,
			h:   http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"view"}},
			err: `userextras.authentication.k8s.io "view" is forbidden: User "noor" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io"`},
		{name: "member granted userextras/scopes view (HTTP)", grant: []string{"", "authentication.k8s.io", "userextras/scopes", "view"}, kc: kc,
			h:    http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"view"}},
			want: &whoami{Username: "jane", Groups: []string{"system:authenticated"}, Extra: map[string][]string{"drover.dev/original-user": {"noor"}, "scopes": {"view"}}}},
	}
	outer := t
	bearer := map[string]string{admin: shared.adminToken, kc: noor.token}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.grant != nil {
				grantRule(ctx, t, outer, direct, "noor", st.grant[0], st.grant[1], st.grant[2], st.grant[3])
			}
			try := func() (whoami, string) {
				if st.h != nil {
					code, got, msg := selfReview(ctx, t, bearer[st.kc], st.h)
					if code == http.StatusCreated {
						return got, ""
					}
					return whoami{}, fmt.Sprintf("%d %s", code, msg)
				}
				if st.want == nil {
					_, err := kubectl(ctx, t, st.kc, append(st.flags, "get", "--raw", rawVersion(shared.clusterID))...)
					if err == nil {
						return whoami{}, ""
					}
					return whoami{}, stderrOf(t, err)
				}
				got, err := whoAmI(ctx, t, st.kc, st.flags...)
				if err != nil {
					return whoami{}, err.Error()
				}
				return got, ""
			}
			got, refused := try()
			// A grant reaches the apiserver's RBAC through its informers,
			// and Drover reuses a refusal for 1 s.
			for deadline := time.Now().Add(10 * time.Second); st.grant != nil && st.want != nil && refused != "" && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				got, refused = try()
			}
			if st.want == nil {
				if !strings.Contains(refused, st.err) || !strings.Contains(refused, "Forbidden") && !strings.HasPrefix(refused, "403 ") {
					t.Errorf("refusal %q, want a Forbidden answer containing %q", refused, st.err)
				}
				return
			}
			if refused != "" {
				t.Fatalf("refused: %s", refused)
			}
			if diff := cmp.Diff(*st.want, nestedView(got)); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}

	// The ServiceAccount's rights through Drover are the apiserver's own
	// for it, whoever asks: the admin's rights do not leak through.
	for _, caller := range []struct{ name, kc string }{{"admin", admin}, {"member", kc}} {
		t.Run(caller.name+" --as the ServiceAccount has its rights and no more", func(t *testing.T) {
			if diff := cmp.Diff(wantRules, rulesList(ctx, t, caller.kc, "--as", sa)); diff != "" {
				t.Errorf("kubectl auth can-i --list -n default (-direct +through Drover):\n%s", diff)
			}
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"get", "pods", "-n", "default"}, "yes"},
				{[]string{"get", "secrets", "-n", "default"}, "no"},
				{[]string{"get", "pods", "-n", "kube-system"}, "no"},
				{[]string{"create", "pods", "-n", "default"}, "no"},
			} {
				out, _ := kubectl(ctx, t, caller.kc, append([]string{"--as", sa, "auth", "can-i"}, c.args...)...)
				if got := strings.TrimSpace(out); got != c.want {
					t.Errorf("can-i %v as %s: %q, want %q", c.args, sa, got, c.want)
				}
			}
			if _, err := kubectl(ctx, t, caller.kc, "--as", sa, "get", "pods", "-n", "default"); err != nil {
				t.Errorf("get pods in default as %s: %v", sa, err)
			}
			_, err := kubectl(ctx, t, caller.kc, "--as", sa, "get", "secrets", "-n", "default")
			if want := `User "` + sa + `" cannot list resource "secrets"`; err == nil || !strings.Contains(stderrOf(t, err), want) {
				t.Errorf("get secrets as %s: %v, want %q", sa, err, want)
			}
		})
	}
}
