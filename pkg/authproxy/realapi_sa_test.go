package authproxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// postWith sends POST path with a JSON body, a bearer token and the
// headers h through the proxy, and returns the code and the body.
func (s *sandwich) postWith(t *testing.T, path, bearer string, h http.Header, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", s.proxy.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		req.Header = h.Clone()
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// rulesOf is what a SelfSubjectRulesReview status says, in a fixed order
// (the apiserver's order follows its informers' caches).
type rulesOf struct {
	Resource    []string
	NonResource []string
}

func sortedRules(st authorizationv1.SubjectRulesReviewStatus) rulesOf {
	var out rulesOf
	for _, r := range st.ResourceRules {
		b, _ := json.Marshal(r)
		out.Resource = append(out.Resource, string(b))
	}
	for _, r := range st.NonResourceRules {
		b, _ := json.Marshal(r)
		out.NonResource = append(out.NonResource, string(b))
	}
	slices.Sort(out.Resource)
	slices.Sort(out.NonResource)
	return out
}

// TestNestedServiceAccountRights: kubectl --as
// system:serviceaccount:team-a:builder through Drover, by an admin or by a
// member granted serviceaccounts/builder in team-a, acts in the real
// apiserver as exactly that ServiceAccount, with its rights and no more:
// what it may do through Drover, and the rules the apiserver lists for it
// in each namespace, are those of the ServiceAccount's own token, not the
// caller's (the admin's cluster-admin does not leak through).
func TestNestedServiceAccountRights(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	s := newSandwich(t, realAccounts)
	rc := s.startRealCluster("authproxy-sa")
	s.connectReal("c-sabre", rc)
	ada := s.addUser("ada", true)
	adaTok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-sabre")
	bobTok, _ := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))

	ctx := t.Context()
	rc.createNamespaces(t, "team-a", "team-b")
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rc.cs.CoreV1().ServiceAccounts("team-a").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}))
	must(rc.cs.RbacV1().Roles("team-a").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}))
	must(rc.cs.RbacV1().RoleBindings("team-a").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "builder-reads-pods"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder", Namespace: "team-a"}}}, metav1.CreateOptions{}))
	rc.grant(t, "bob", "team-a", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, ResourceNames: []string{"builder"}})

	// What the ServiceAccount's own token may do: the reference.
	tr, err := rc.cs.CoreV1().ServiceAccounts("team-a").CreateToken(ctx, "builder", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.secrets = append(s.secrets, tr.Status.Token)
	cfg := rest.CopyConfig(rc.RESTConfig())
	cfg.BearerToken, cfg.CertData, cfg.KeyData = tr.Status.Token, nil, nil
	own, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ownRules := map[string]rulesOf{}
	for _, ns := range []string{"team-a", "team-b", "kube-system"} {
		r, err := own.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx,
			&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ownRules[ns] = sortedRules(r.Status)
	}
	if got := ownRules["team-a"]; !slices.ContainsFunc(got.Resource, func(r string) bool { return strings.Contains(r, `"pods"`) }) {
		t.Fatalf("the ServiceAccount's own rules in team-a lack pods: %v", got.Resource)
	}

	const builder = "system:serviceaccount:team-a:builder"
	asBuilder := http.Header{"Impersonate-User": {builder}}
	const base = "/k8s/clusters/c-sabre"
	for _, caller := range []struct{ name, tok string }{{"admin", adaTok}, {"member granted the ServiceAccount", bobTok}} {
		t.Run(caller.name, func(t *testing.T) {
			// The identity the apiserver sees.
			// (The grant reaches the apiserver's RBAC through its
			// informers, and the proxy reuses a refusal for 1 s.)
			code, info, msg := s.whoAmIWith(t, "c-sabre", caller.tok, asBuilder)
			for deadline := time.Now().Add(waitTimeout); code != 201 && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				code, info, msg = s.whoAmIWith(t, "c-sabre", caller.tok, asBuilder)
			}
			if code != 201 {
				t.Fatalf("whoami: %d %s", code, msg)
			}
			wantGroups := []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"}
			if diff := cmp.Diff([]any{builder, wantGroups}, []any{info.Username, info.Groups}); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			// What it may do: its pods, nothing else.
			access := []struct {
				path string
				code int
			}{
				{"/api/v1/namespaces/team-a/pods", 200},
				{"/api/v1/namespaces/team-b/pods", 403},
				{"/api/v1/namespaces/team-a/secrets", 403},
				{"/api/v1/namespaces/kube-system/secrets", 403},
				{"/api/v1/pods", 403},
				{"/api/v1/nodes", 403},
			}
			for _, a := range access {
				if code, msg := s.getWith(base+a.path, caller.tok, asBuilder); code != a.code {
					t.Errorf("GET %s as %s: %d (%s), want %d", a.path, builder, code, msg, a.code)
				}
			}
			cm := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`)
			if code, b := s.postWith(t, base+"/api/v1/namespaces/team-a/configmaps", caller.tok, asBuilder, cm); code != 403 {
				t.Errorf("create a ConfigMap as %s: %d %s, want 403", builder, code, b)
			}
			// The rules the apiserver lists, namespace by namespace, are
			// the ServiceAccount's own.
			for ns, want := range ownRules {
				body, _ := json.Marshal(authorizationv1.SelfSubjectRulesReview{
					TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SelfSubjectRulesReview"},
					Spec:     authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}})
				code, b := s.postWith(t, base+"/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", caller.tok, asBuilder, body)
				if code != 201 {
					t.Fatalf("rules review in %s: %d %s", ns, code, b)
				}
				var r authorizationv1.SelfSubjectRulesReview
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, sortedRules(r.Status)); diff != "" {
					t.Errorf("rules in %s through Drover differ from the ServiceAccount's own (-own +drover):\n%s", ns, diff)
				}
			}
		})
	}
	s.checkNoSecretsLeaked()
}
