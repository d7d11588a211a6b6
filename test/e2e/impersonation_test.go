package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/testbed"
)

// whoami is what kubectl auth whoami reports.
type whoami struct {
	Username string              `json:"username"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups"`
	Extra    map[string][]string `json:"extra"`
}

// whoAmI runs kubectl auth whoami with extra flags (--as, --as-group, ...).
func whoAmI(ctx context.Context, t *testing.T, kc string, flags ...string) (whoami, error) {
	t.Helper()
	out, err := kubectl(ctx, t, kc, append(flags, "auth", "whoami", "-o", "json")...)
	if err != nil {
		return whoami{}, err
	}
	var r struct {
		Status struct {
			UserInfo whoami `json:"userInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("whoami output %q: %v", out, err)
	}
	return r.Status.UserInfo, nil
}

// nestedView is the part of a whoami a nested impersonation decides: the
// user, the uid, the groups and the extras but the token and user ids
// (they vary per run).
func nestedView(w whoami) whoami {
	out := whoami{Username: w.Username, UID: w.UID, Groups: w.Groups}
	for k, v := range w.Extra {
		if k == "drover.dev/token-id" || k == "drover.dev/user-id" {
			continue
		}
		if out.Extra == nil {
			out.Extra = map[string][]string{}
		}
		out.Extra[k] = v
	}
	return out
}

// stderrOf returns a kubectl failure's stderr, failing the test if the
// command did not fail as kubectl does.
func stderrOf(t *testing.T, err error) string {
	t.Helper()
	var kerr *kubectlError
	if !errors.As(err, &kerr) {
		t.Fatalf("want a kubectl failure, got %v", err)
	}
	return kerr.stderr
}

// TestNestedImpersonationAdmin: an admin's kubectl --as reaches the cluster
// as the requested identity, with the admin named in the original-user
// extra, and the cluster's RBAC applies to the impersonated user.
func TestNestedImpersonationAdmin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})
	original := map[string][]string{"drover.dev/original-user": {"admin"}}

	tests := []struct {
		name  string
		flags []string
		want  whoami
	}{
		{name: "without --as", flags: nil,
			want: whoami{Username: "admin", Groups: []string{"drover:admins", "system:authenticated"}}},
		{name: "--as jane", flags: []string{"--as", "jane"},
			want: whoami{Username: "jane", Groups: []string{"system:authenticated"}, Extra: original}},
		{name: "--as jane --as-group devs --as-group ops", flags: []string{"--as", "jane", "--as-group", "devs", "--as-group", "ops"},
			want: whoami{Username: "jane", Groups: []string{"devs", "ops", "system:authenticated"}, Extra: original}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := whoAmI(ctx, t, kc, tc.flags...)
			if err != nil {
				t.Fatalf("whoami: %v", err)
			}
			if diff := cmp.Diff(tc.want, nestedView(got)); diff != "" {
				t.Errorf("whoami (-want +got):\n%s", diff)
			}
			if len(got.Extra["drover.dev/token-id"]) != 1 || len(got.Extra["drover.dev/user-id"]) != 1 {
				t.Errorf("token-id and user-id extras missing: %v", got.Extra)
			}
		})
	}

	t.Run("the cluster's RBAC applies to the impersonated user", func(t *testing.T) {
		_, err := kubectl(ctx, t, kc, "--as", "jane", "get", "ns")
		if want := `User "jane" cannot list resource "namespaces"`; !strings.Contains(stderrOf(t, err), want) {
			t.Errorf("stderr %q, want it to contain %q", stderrOf(t, err), want)
		}
	})

	// --as a ServiceAccount, --as-uid and extras: TestNestedImpersonationKinds.
}

// TestNestedImpersonationLatency logs what a nested impersonation adds to
// a GET. Both requests get the same answer from the same binding: the admin
// as itself, and the admin --as a user in group drover:admins (bound to
// cluster-admin). A miss asks the cluster (one SubjectAccessReview for the
// user and one per group, through the tunnel); within the approval's few
// seconds the same request asks nothing.
func TestNestedImpersonationLatency(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(shared.server.CAPEM)
	client := &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	url := shared.server.URL + "/k8s/clusters/" + shared.clusterID + "/api/v1/namespaces/default"
	get := func(as string) time.Duration {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+shared.adminToken)
		if as != "" {
			req.Header.Set("Impersonate-User", as)
			req.Header.Set("Impersonate-Group", "drover:admins")
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET as %q: status %d", as, resp.StatusCode)
		}
		return took
	}
	get("") // warm the connection and the approval
	get("jane")
	const n = 100
	var plain, cached []time.Duration
	for range n { // interleaved, so drift hits both alike
		plain = append(plain, get(""))
		cached = append(cached, get("jane"))
	}
	var misses []time.Duration
	for i := range 20 { // a new user each time: never approved before
		misses = append(misses, get("latency-"+strconv.Itoa(i)))
	}
	med := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	p, c, m := med(plain), med(cached), med(misses)
	t.Logf("GET namespace, medians: plain %v (n=%d); --as with the approval cached %v (%+v); --as with 2 reviews (user, group) %v (%+v, n=%d)",
		p, n, c, c-p, m, m-p, len(misses))
}

// rawVersion is the path of a cluster's /version through Drover, for
// kubectl get --raw: a refusal's message in stderr as Drover wrote it. Not
// kubectl auth whoami, which reports any 403 as "the selfsubjectreviews API
// is not enabled", nor a resource request, whose discovery step reports a
// refusal as "unknown" unless discovery is cached.
func rawVersion(clusterID string) string {
	return "/k8s/clusters/" + clusterID + "/version"
}

// member is a non-admin Drover user.
type member struct {
	name, id, token string
}

// newMember creates a non-admin user and makes it a member of clusters
// (read-only: no impersonation right comes with it). It skips the test when
// this build has no bindings API yet.
func newMember(ctx context.Context, t *testing.T, s *harness.Server, admin, name string, clusters ...string) member {
	t.Helper()
	const password = "correct-horse-battery-staple"
	if err := s.CreateUser(ctx, admin, name, password, false); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	tok, err := s.Login(ctx, name, password)
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	me, err := s.Me(ctx, tok)
	if err != nil {
		t.Fatalf("who is %s: %v", name, err)
	}
	m := member{name: name, id: me.ID, token: tok}
	for _, c := range clusters {
		bindMember(ctx, t, s, admin, m, c)
	}
	return m
}

// bindMember makes a user a read-only member of a cluster through the
// bindings API, or skips the test when this build has none yet.
func bindMember(ctx context.Context, t *testing.T, s *harness.Server, admin string, m member, cluster string) {
	t.Helper()
	b, err := s.CreateBinding(ctx, admin, harness.Binding{Scope: "cluster", ClusterID: cluster, Role: "read-only",
		SubjectKind: "user", Subject: m.id})
	var apiErr *harness.APIError
	if errors.As(err, &apiErr) && (apiErr.Code == http.StatusNotFound || apiErr.Code == http.StatusMethodNotAllowed) {
		t.Skipf("no bindings API in this build (POST /v3/bindings: %v); the member path is covered by pkg/authproxy's TestNestedRealAPIServer", err)
	}
	if err != nil {
		t.Fatalf("bind %s in %s: %v", m.name, cluster, err)
	}
	t.Cleanup(func() { s.DeleteBinding(context.Background(), admin, b.ID) })
}

// grantImpersonate lets user impersonate resource/name in a cluster,
// directly (the direct kubeconfig), for the user name Drover impersonates.
// The grant is removed when owner ends.
func grantImpersonate(ctx context.Context, t, owner *testing.T, direct, user, resource, name string) {
	t.Helper()
	role := "e2e-" + user + "-impersonate-" + resource + "-" + strings.ReplaceAll(name, ":", "-")
	if _, err := kubectl(ctx, t, direct, "create", "clusterrole", role,
		"--verb=impersonate", "--resource="+resource, "--resource-name="+name); err != nil {
		t.Fatalf("create clusterrole: %v", err)
	}
	if _, err := kubectl(ctx, t, direct, "create", "clusterrolebinding", role, "--clusterrole="+role, "--user="+user); err != nil {
		t.Fatalf("create clusterrolebinding: %v", err)
	}
	owner.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		kubectl(ctx, owner, direct, "delete", "clusterrolebinding,clusterrole", role, "--ignore-not-found")
	})
}

// TestNestedImpersonationMember: a member's --as is decided by the target
// cluster's RBAC, asked through Drover, and by no other cluster's.
func TestNestedImpersonationMember(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	nia := newMember(ctx, t, shared.server, shared.adminToken, "nia", shared.clusterID)

	// A second cluster on the shared server, where nobody grants anything.
	other := importOwnCluster(ctx, t, testbed.Options{Name: "e2e-other"})
	otherID := other.id

	bindMember(ctx, t, shared.server, shared.adminToken, nia, otherID)
	kc := writeKubeconfig(ctx, t, nia.token, []string{shared.clusterID})
	otherKC := writeKubeconfig(ctx, t, nia.token, []string{otherID})
	direct := filepath.Join(shared.dir, "direct-kubeconfig")
	original := map[string][]string{"drover.dev/original-user": {"nia"}}
	clusterOf := map[string]string{kc: shared.clusterID, otherKC: otherID}

	steps := []struct {
		name    string
		grant   []string // resource, name: granted to nia in the shared cluster first
		kc      string
		flags   []string
		want    *whoami // nil: refused by Drover (then the step runs kubectl get --raw .../version)
		wantErr string  // refused: in stderr
	}{
		{name: "no impersonate right: refused by Drover with the review's answer", kc: kc, flags: []string{"--as", "jane"},
			wantErr: `users "jane" is forbidden: User "nia" cannot impersonate resource "users" in API group "" in cluster "` + shared.clusterID + `" (SubjectAccessReview: `},
		{name: "granted impersonate on users/jane: allowed", grant: []string{"users", "jane"}, kc: kc, flags: []string{"--as", "jane"},
			want: &whoami{Username: "jane", Groups: []string{"system:authenticated"}, Extra: original}},
		{name: "another user is still refused", kc: kc, flags: []string{"--as", "joe"},
			wantErr: `users "joe" is forbidden: User "nia"`},
		{name: "--as-group devs is checked: refused", kc: kc, flags: []string{"--as", "jane", "--as-group", "devs"},
			wantErr: `groups "devs" is forbidden: User "nia" cannot impersonate resource "groups"`},
		{name: "granted impersonate on groups/devs: allowed", grant: []string{"groups", "devs"}, kc: kc, flags: []string{"--as", "jane", "--as-group", "devs"},
			want: &whoami{Username: "jane", Groups: []string{"devs", "system:authenticated"}, Extra: original}},
		{name: "the other cluster refuses what this one allows", kc: otherKC, flags: []string{"--as", "jane"},
			wantErr: `users "jane" is forbidden: User "nia" cannot impersonate resource "users" in API group "" in cluster "` + otherID + `"`},
		{name: "the other cluster refuses the group too", kc: otherKC, flags: []string{"--as", "jane", "--as-group", "devs"},
			wantErr: `in cluster "` + otherID + `"`},
	}
	outer := t
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.grant != nil {
				grantImpersonate(ctx, t, outer, direct, "nia", st.grant[0], st.grant[1])
			}
			if st.want == nil {
				_, err := kubectl(ctx, t, st.kc, append(st.flags, "get", "--raw", rawVersion(clusterOf[st.kc]))...)
				stderr := stderrOf(t, err)
				if !strings.Contains(stderr, st.wantErr) {
					t.Errorf("stderr %q, want it to contain %q", stderr, st.wantErr)
				}
				if !strings.Contains(stderr, "Forbidden") {
					t.Errorf("stderr %q is not a Forbidden answer", stderr)
				}
				return
			}
			got, err := whoAmI(ctx, t, st.kc, st.flags...)
			// A grant reaches the apiserver's RBAC through its informers,
			// and Drover reuses a refusal for 1 s (so that repeating a
			// refused request does not make the cluster answer each time):
			// a retry within a few seconds sees it.
			for deadline := time.Now().Add(10 * time.Second); st.grant != nil && err != nil && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				got, err = whoAmI(ctx, t, st.kc, st.flags...)
			}
			if err != nil {
				t.Fatalf("whoami: %v", err)
			}
			if diff := cmp.Diff(*st.want, nestedView(got)); diff != "" {
				t.Errorf("whoami (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNestedImpersonationRefusedNames: names Drover refuses before asking
// the cluster anything, through kubectl and over HTTP/2 to the real server.
//
// HTTP/2 carries a header value as sent, so "devs " reaches Drover; the
// hop to the apiserver is HTTP/1.1, which trims it to "devs": the name
// approved would not be the name forwarded (before the fix this request
// was answered as group "devs"). system:anonymous and
// system:unauthenticated would gain system:authenticated, which Drover adds
// to every identity (before the fix an admin's --as system:anonymous was
// answered as an authenticated system:anonymous).
func TestNestedImpersonationRefusedNames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})

	kubectlTests := []struct {
		name  string
		flags []string
		want  string // in stderr
	}{
		{name: "--as system:anonymous", flags: []string{"--as", "system:anonymous"},
			want: "impersonating user system:anonymous is not supported through Drover"},
		{name: "--as-group system:unauthenticated", flags: []string{"--as", "jane", "--as-group", "system:unauthenticated"},
			want: "impersonating group system:unauthenticated is not supported through Drover"},
		{name: "--as of 513 bytes", flags: []string{"--as", strings.Repeat("j", 513)},
			want: "Impersonate-User is 513 bytes long; at most 512 are accepted"},
	}
	for _, tc := range kubectlTests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := kubectl(ctx, t, kc, append(tc.flags, "get", "--raw", rawVersion(shared.clusterID))...)
			if err == nil {
				t.Fatalf("allowed: %s", out)
			}
			if stderr := stderrOf(t, err); !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tc.want)
			}
		})
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(shared.server.CAPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	url := shared.server.URL + "/k8s/clusters/" + shared.clusterID + "/apis/authentication.k8s.io/v1/selfsubjectreviews"
	h2Tests := []struct {
		name   string
		user   string
		groups []string
		want   string
	}{
		{name: "group with a trailing space", user: "jane", groups: []string{"devs "},
			want: "Impersonate-Group value 1 has leading or trailing whitespace"},
		{name: "user with a leading space", user: " jane",
			want: "Impersonate-User has leading or trailing whitespace"},
	}
	for _, tc := range h2Tests {
		t.Run("HTTP/2 "+tc.name, func(t *testing.T) {
			body := `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+shared.adminToken)
			req.Header.Set("Content-Type", "application/json")
			req.Header["Impersonate-User"] = []string{tc.user}
			req.Header["Impersonate-Group"] = tc.groups
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ProtoMajor != 2 {
				t.Fatalf("answered over %s: HTTP/1.1 trims the value before Drover sees it, so this test needs HTTP/2", resp.Proto)
			}
			var st struct{ Message string }
			json.Unmarshal(b, &st)
			if resp.StatusCode != http.StatusBadRequest || st.Message != tc.want {
				t.Errorf("status %d %s, want 400 with message %q", resp.StatusCode, b, tc.want)
			}
		})
	}
}
