package authproxy_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-dev/drover/pkg/accounts"
	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
	"github.com/drover-dev/drover/test/testbed"
)

// realCluster is a kube-apiserver prepared as the agent prepares one: the
// impersonate-only ServiceAccount, the controller's role, the admins'
// binding.
type realCluster struct {
	*testbed.Cluster
	cs      kubernetes.Interface
	saToken string
}

// startRealCluster starts a testbed cluster for the sandwich. Call it after
// newSandwich, so the cluster and its client are gone before the leak check.
func (s *sandwich) startRealCluster(name string) *realCluster {
	s.t.Helper()
	if _, err := testbed.FindBinaries(); err != nil {
		s.t.Skipf("no testbed binaries: %v", err)
	}
	cl := testbed.StartT(s.t, testbed.Options{Name: name, Logger: slog.New(slog.DiscardHandler)})
	cfg := cl.RESTConfig()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(hc.CloseIdleConnections)
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx := s.t.Context()
	must := func(_ any, err error) {
		s.t.Helper()
		if err != nil {
			s.t.Fatal(err)
		}
	}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
	must(cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: meta(downstream.Namespace)}, metav1.CreateOptions{}))
	// What the cluster agent applies (package agent): the controller's
	// account and roles, and the admin binding.
	must(cs.CoreV1().ServiceAccounts(downstream.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta(downstream.ControllerServiceAccount)}, metav1.CreateOptions{}))
	must(cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: meta(downstream.ControllerClusterRole), Rules: downstream.ControllerRules()}, metav1.CreateOptions{}))
	controller := rbacv1.Subject{Kind: "ServiceAccount", Name: downstream.ControllerServiceAccount, Namespace: downstream.Namespace}
	bind := func(name, role string, subject rbacv1.Subject) {
		s.t.Helper()
		must(cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: meta(name),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{subject}}, metav1.CreateOptions{}))
	}
	bind(downstream.ControllerBinding, downstream.ControllerClusterRole, controller)
	bind(downstream.AdminBinding, "cluster-admin", rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: downstream.AdminGroup})
	must(cs.RbacV1().Roles(downstream.Namespace).Create(ctx, &rbacv1.Role{ObjectMeta: meta(downstream.ControllerRole),
		Rules: downstream.ControllerNamespaceRules()}, metav1.CreateOptions{}))
	must(cs.RbacV1().RoleBindings(downstream.Namespace).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: meta(downstream.ControllerRole),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: downstream.ControllerRole},
		Subjects: []rbacv1.Subject{controller}}, metav1.CreateOptions{}))
	tr, err := cs.CoreV1().ServiceAccounts(downstream.Namespace).CreateToken(ctx, downstream.ControllerServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{}}, metav1.CreateOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	s.secrets = append(s.secrets, tr.Status.Token)
	return &realCluster{Cluster: cl, cs: cs, saToken: tr.Status.Token}
}

// connectReal creates a Drover cluster whose agent reaches rc.
func (s *sandwich) connectReal(id string, rc *realCluster) {
	s.t.Helper()
	reg := s.addCluster(id)
	s.startAgent(reg, agentapi.AgentParams{Protocol: agentapi.Protocol, Kind: agentapi.KindCluster, Endpoint: rc.Host, CACert: rc.CAData, Token: rc.saToken})
	waitFor(s.t, "agent of "+id, func() bool { _, ok := s.tun.Session(id); return ok })
}

// grantImpersonate lets user impersonate resource/name in rc.
func (rc *realCluster) grantImpersonate(t *testing.T, user, resource, name string) {
	t.Helper()
	rc.grant(t, user, "", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{resource}, ResourceNames: []string{name}})
}

// grant lets user impersonate what rule names (its verb is set to
// impersonate) in rc: cluster-wide, or in namespace if not "".
func (rc *realCluster) grant(t *testing.T, user, namespace string, rule rbacv1.PolicyRule) {
	t.Helper()
	rule.Verbs = []string{"impersonate"}
	role := strings.NewReplacer("/", "-", ".", "-", ":", "-").Replace(
		strings.ToLower("test-" + user + "-" + namespace + "-" + strings.Join(rule.Resources, "-") + "-" + strings.Join(rule.ResourceNames, "-")))
	ctx := t.Context()
	if _, err := rc.cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role},
		Rules: []rbacv1.PolicyRule{rule}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}
	subjects := []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: user}}
	var err error
	if namespace == "" {
		_, err = rc.cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role},
			RoleRef: ref, Subjects: subjects}, metav1.CreateOptions{})
	} else {
		_, err = rc.cs.RbacV1().RoleBindings(namespace).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role},
			RoleRef: ref, Subjects: subjects}, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// createNamespaces creates namespaces in rc.
func (rc *realCluster) createNamespaces(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := rc.cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// whoAmIWith asks the cluster behind the proxy who the request with the
// identity headers h is, as kubectl auth whoami does, and returns the code
// and either the user info or the Status message.
func (s *sandwich) whoAmIWith(t *testing.T, cluster, bearer string, h http.Header) (int, authenticationv1.UserInfo, string) {
	t.Helper()
	body := `{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1"}`
	req, err := http.NewRequest("POST", s.proxy.URL+"/k8s/clusters/"+cluster+"/apis/authentication.k8s.io/v1/selfsubjectreviews", strings.NewReader(body))
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
	if resp.StatusCode != http.StatusCreated {
		var st metav1.Status
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("status %d, body %s", resp.StatusCode, b)
		}
		return resp.StatusCode, authenticationv1.UserInfo{}, st.Message
	}
	var r authenticationv1.SelfSubjectReview
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r.Status.UserInfo, ""
}

// TestNestedRealAPIServer runs nested impersonation against real
// kube-apiservers: their RBAC answers the reviews, their impersonation
// filter accepts what the proxy sends (the original-user extra included),
// and a right in one cluster does not open another.
func TestNestedRealAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two kube-apiservers")
	}
	s := newSandwich(t, realAccounts)
	alpha := s.startRealCluster("authproxy-alpha")
	beta := s.startRealCluster("authproxy-beta")
	s.connectReal("c-alpha", alpha)
	s.connectReal("c-bravo", beta)
	ada := s.addUser("ada", true)
	adaTok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-alpha")
	s.bind(bob.ID, "c-bravo")
	bobTok, _ := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))

	alpha.createNamespaces(t, "team-a", "team-b")
	nested := func(user string, groups []string, original string) authenticationv1.UserInfo {
		return authenticationv1.UserInfo{Username: user, Groups: append(groups, "system:authenticated"),
			Extra: map[string]authenticationv1.ExtraValue{downstream.ExtraOriginalUser: {original}}}
	}
	as := func(user string, groups ...string) http.Header {
		h := http.Header{"Impersonate-User": {user}}
		if len(groups) > 0 {
			h["Impersonate-Group"] = groups
		}
		return h
	}
	const builder = "system:serviceaccount:team-a:builder"
	saInfo := func(original string) authenticationv1.UserInfo {
		return authenticationv1.UserInfo{Username: builder,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
			Extra:  map[string]authenticationv1.ExtraValue{downstream.ExtraOriginalUser: {original}}}
	}
	uidAndExtra := func(h http.Header) http.Header {
		h.Set("Impersonate-Uid", "1000")
		h["Impersonate-Extra-Example.com%2fteam"] = []string{"blue"}
		return h
	}
	authGroup := []string{"authentication.k8s.io"}
	steps := []struct {
		name    string
		do      func(t *testing.T)
		cluster string
		bearer  string
		h       http.Header
		code    int
		want    authenticationv1.UserInfo // 201: user, uid, groups, extras but the token and user ids
		msg     string                    // refusals: in the message
	}{
		{name: "admin --as jane", cluster: "c-alpha", bearer: adaTok, h: as("jane"),
			code: 201, want: nested("jane", nil, "ada")},
		{name: "admin --as jane --as-group devs", cluster: "c-bravo", bearer: adaTok, h: as("jane", "devs"),
			code: 201, want: nested("jane", []string{"devs"}, "ada")},
		{name: "member without the right", cluster: "c-alpha", bearer: bobTok, h: as("jane"), code: 403,
			msg: `users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" in cluster "c-alpha" (SubjectAccessReview: `},
		{name: "member granted users/jane in c-alpha", do: func(t *testing.T) { alpha.grantImpersonate(t, "bob", "users", "jane") },
			cluster: "c-alpha", bearer: bobTok, h: as("jane"), code: 201, want: nested("jane", nil, "bob")},
		{name: "member --as-group devs without the right", cluster: "c-alpha", bearer: bobTok, h: as("jane", "devs"), code: 403,
			msg: `groups "devs" is forbidden: User "bob" cannot impersonate resource "groups"`},
		{name: "member granted groups/devs in c-alpha", do: func(t *testing.T) { alpha.grantImpersonate(t, "bob", "groups", "devs") },
			cluster: "c-alpha", bearer: bobTok, h: as("jane", "devs"), code: 201, want: nested("jane", []string{"devs"}, "bob")},
		{name: "c-bravo refuses what c-alpha allows", cluster: "c-bravo", bearer: bobTok, h: as("jane"), code: 403,
			msg: `users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" in cluster "c-bravo"`},
		// ServiceAccounts: asked without groups, the account's own groups.
		{name: "admin --as a ServiceAccount", cluster: "c-alpha", bearer: adaTok, h: as(builder), code: 201, want: saInfo("ada")},
		{name: "member --as a ServiceAccount without the right", cluster: "c-alpha", bearer: bobTok, h: as(builder), code: 403,
			msg: `serviceaccounts "builder" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team-a" in cluster "c-alpha"`},
		{name: "member granted serviceaccounts/builder in team-a", do: func(t *testing.T) {
			alpha.grant(t, "bob", "team-a", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, ResourceNames: []string{"builder"}})
		}, cluster: "c-alpha", bearer: bobTok, h: as(builder), code: 201, want: saInfo("bob")},
		{name: "the same name in team-b is still refused", cluster: "c-alpha", bearer: bobTok, h: as("system:serviceaccount:team-b:builder"), code: 403,
			msg: `serviceaccounts "builder" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team-b"`},
		{name: "a kube-system ServiceAccount: refused without asking", cluster: "c-alpha", bearer: adaTok,
			h: as("system:serviceaccount:kube-system:default"), code: 403,
			msg: `Drover never acts as "system:serviceaccount:kube-system:default": ServiceAccounts of namespace "kube-system" are reserved`},
		{name: "a ServiceAccount in a namespace that does not exist", cluster: "c-alpha", bearer: adaTok,
			h: as("system:serviceaccount:nowhere:builder"), code: 404, msg: `namespace "nowhere" does not exist in cluster "c-alpha"`},
		// A uid and an extra.
		{name: "member --as-uid without the right", cluster: "c-alpha", bearer: bobTok, h: uidAndExtra(as("jane")), code: 403,
			msg: `uids.authentication.k8s.io "1000" is forbidden: User "bob" cannot impersonate resource "uids" in API group "authentication.k8s.io"`},
		{name: "member granted the uid, not the extra", do: func(t *testing.T) {
			alpha.grant(t, "bob", "", rbacv1.PolicyRule{APIGroups: authGroup, Resources: []string{"uids"}, ResourceNames: []string{"1000"}})
		}, cluster: "c-alpha", bearer: bobTok, h: uidAndExtra(as("jane")), code: 403,
			msg: `userextras.authentication.k8s.io "blue" is forbidden: User "bob" cannot impersonate resource "userextras/example.com/team"`},
		{name: "member granted the extra too", do: func(t *testing.T) {
			alpha.grant(t, "bob", "", rbacv1.PolicyRule{APIGroups: authGroup, Resources: []string{"userextras/example.com/team"}, ResourceNames: []string{"blue"}})
		}, cluster: "c-alpha", bearer: bobTok, h: uidAndExtra(as("jane")), code: 201,
			want: authenticationv1.UserInfo{Username: "jane", UID: "1000", Groups: []string{"system:authenticated"},
				Extra: map[string]authenticationv1.ExtraValue{downstream.ExtraOriginalUser: {"bob"}, "example.com/team": {"blue"}}}},
		{name: "admin --as a ServiceAccount with a uid and an extra", cluster: "c-alpha", bearer: adaTok, h: uidAndExtra(as(builder)), code: 201,
			want: authenticationv1.UserInfo{Username: builder, UID: "1000",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
				Extra:  map[string]authenticationv1.ExtraValue{downstream.ExtraOriginalUser: {"ada"}, "example.com/team": {"blue"}}}},
		{name: "--as-user-extra drover.dev/user-id: refused", cluster: "c-alpha", bearer: adaTok,
			h: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Drover.dev%2fuser-Id": {"x"}}, code: 403,
			msg: `Drover sets its own extras: extra "drover.dev/user-id" may not be asked for`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.do != nil {
				st.do(t)
			}
			code, info, msg := s.whoAmIWith(t, st.cluster, st.bearer, st.h)
			// A grant reaches the apiserver's RBAC through its informers:
			// give it a moment (a refusal is reused by the proxy for 1 s).
			for deadline := time.Now().Add(waitTimeout); st.do != nil && (code != st.code || !strings.Contains(msg, st.msg)) &&
				time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
				code, info, msg = s.whoAmIWith(t, st.cluster, st.bearer, st.h)
			}
			if code != st.code {
				t.Fatalf("status %d (%s), want %d", code, msg, st.code)
			}
			if code != 201 {
				t.Logf("refused: %s", msg)
				if !strings.Contains(msg, st.msg) {
					t.Errorf("message %q, want it to contain %q", msg, st.msg)
				}
				return
			}
			got := authenticationv1.UserInfo{Username: info.Username, UID: info.UID, Groups: info.Groups, Extra: map[string]authenticationv1.ExtraValue{}}
			for k, v := range info.Extra {
				if k != downstream.ExtraTokenID && k != downstream.ExtraUserID {
					got.Extra[k] = v
				}
			}
			if diff := cmp.Diff(st.want, got); diff != "" {
				t.Errorf("identity in the cluster (-want +got):\n%s", diff)
			}
			if len(info.Extra[downstream.ExtraTokenID]) != 1 || len(info.Extra[downstream.ExtraUserID]) != 1 {
				t.Errorf("token-id or user-id extra missing: %v", info.Extra)
			}
		})
	}
	s.checkNoSecretsLeaked()
}

// TestAccountReach holds, against a real kube-apiserver and with the
// credential in hand, that no credential Drover forwards requests with can
// become anyone else: a member's impersonation account (made by the
// member's first request through the proxy) acts as that member with
// their own groups, and is refused every other identity, one case per
// identity Drover must never let it reach. The controller's credential
// impersonates nobody.
func TestAccountReach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	s := newSandwich(t, realAccounts)
	rc := s.startRealCluster("authproxy-reach")
	s.connectReal("c-reach", rc)
	bob := s.addUser("bob", false)
	s.bind(bob.ID, "c-reach")
	bobTok, _ := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))
	ada := s.addUser("ada", true)
	adaTok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	rc.createNamespaces(t, "team-a", "team-b")
	// The first requests make the accounts: bob's and ada's own, and ada's
	// --as a ServiceAccount and --as jane with a uid and an extra.
	const builder = "system:serviceaccount:team-a:builder"
	janeExtra := http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {"1000"}, "Impersonate-Extra-Scopes": {"view"}}
	for _, first := range []struct {
		tok string
		h   http.Header
	}{{bobTok, nil}, {adaTok, nil}, {adaTok, http.Header{"Impersonate-User": {builder}}}, {adaTok, janeExtra}} {
		if code, _, msg := s.whoAmIWith(t, "c-reach", first.tok, first.h); code != 201 {
			t.Fatalf("first request: %d %s", code, msg)
		}
	}
	ctx := t.Context()
	tokenOf := func(account string) string {
		t.Helper()
		tr, err := rc.cs.CoreV1().ServiceAccounts(downstream.Namespace).CreateToken(ctx, account,
			&authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("token of %s: %v", account, err)
		}
		return tr.Status.Token
	}
	bobCred := tokenOf(accounts.Name(accounts.Own("bob", bob.ID, nil)))
	adaCred := tokenOf(accounts.Name(accounts.Own("ada", ada.ID, []string{downstream.AdminGroup})))
	saCred := tokenOf(accounts.Name(accounts.As(impersonation.Request{User: builder}, "ada", ada.ID)))
	janeCred := tokenOf(accounts.Name(accounts.As(impersonation.Request{User: "jane", UID: "1000",
		Extra: map[string][]string{"scopes": {"view"}}}, "ada", ada.ID)))
	// whoAsUID asks the apiserver directly, with cred, to act as
	// user/uid/groups/extra.
	whoAsUID := func(cred, user, uid string, groups []string, extra map[string][]string) error {
		cfg := rest.CopyConfig(rc.RESTConfig())
		cfg.BearerToken, cfg.CertData, cfg.KeyData = cred, nil, nil
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, UID: uid, Groups: groups, Extra: extra}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		_, err = cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		return err
	}
	// whoAs asks the apiserver directly, with cred, to act as user/groups.
	whoAs := func(cred string, user string, groups []string, extra map[string][]string) error {
		return whoAsUID(cred, user, "", groups, extra)
	}
	auth := []string{"system:authenticated"}
	bobExtra := map[string][]string{downstream.ExtraTokenID: {"t-anything"}, downstream.ExtraUserID: {bob.ID}}
	adaAs := map[string][]string{downstream.ExtraTokenID: {"t-anything"}, downstream.ExtraUserID: {ada.ID}, downstream.ExtraOriginalUser: {"ada"}}
	with := func(m map[string][]string, k string, v ...string) map[string][]string {
		out := map[string][]string{k: v}
		for kk, vv := range m {
			if kk != k {
				out[kk] = vv
			}
		}
		return out
	}
	cases := []struct {
		name   string
		cred   string
		user   string
		groups []string
		extra  map[string][]string
		ok     bool
	}{
		{"the ServiceAccount account as its ServiceAccount", saCred, builder, nil, adaAs, true},
		{"the ServiceAccount account as the same name in team-b", saCred, "system:serviceaccount:team-b:builder", nil, adaAs, false},
		{"the ServiceAccount account as another name in team-a", saCred, "system:serviceaccount:team-a:other", nil, adaAs, false},
		{"the ServiceAccount account as a kube-system ServiceAccount", saCred, "system:serviceaccount:kube-system:builder", nil, nil, false},
		{"the ServiceAccount account naming system:authenticated", saCred, builder, auth, adaAs, false},
		{"the ServiceAccount account as a plain user", saCred, "builder", nil, nil, false},
		{"the ServiceAccount account in system:masters", saCred, builder, []string{"system:masters"}, nil, false},
		{"the ServiceAccount account with group system:serviceaccounts named", saCred, builder, []string{"system:serviceaccounts"}, nil, false},
		{"the extra account as asked", janeCred, "jane", auth, with(adaAs, "scopes", "view"), true},
		{"the extra account with another extra value", janeCred, "jane", auth, with(adaAs, "scopes", "admin"), false},
		{"the extra account with another extra key", janeCred, "jane", auth, with(adaAs, "roles", "view"), false},
		{"the extra account with another original user", janeCred, "jane", auth, with(adaAs, downstream.ExtraOriginalUser, "bob"), false},
		{"bob's account as bob", bobCred, "bob", auth, bobExtra, true},
		{"bob's account as bob in system:masters", bobCred, "bob", []string{"system:masters", "system:authenticated"}, bobExtra, false},
		{"bob's account as bob in drover:admins", bobCred, "bob", []string{downstream.AdminGroup, "system:authenticated"}, bobExtra, false},
		{"bob's account as the old controller user", bobCred, "drover:system:controller", auth, nil, false},
		{"bob's account as the controller's ServiceAccount", bobCred, downstream.ControllerUser, nil, nil, false},
		{"bob's account as a kube-system ServiceAccount", bobCred, "system:serviceaccount:kube-system:default", nil, nil, false},
		{"bob's account as ada", bobCred, "ada", auth, nil, false},
		{"bob's account as a user nobody holds", bobCred, "mallory", auth, nil, false},
		{"bob's account as bob with another user's id", bobCred, "bob", auth, map[string][]string{downstream.ExtraUserID: {ada.ID}}, false},
		{"bob's account as a node", bobCred, "system:node:n1", []string{"system:nodes"}, nil, false},
		{"ada's (admin) account as ada in drover:admins", adaCred, "ada", []string{downstream.AdminGroup, "system:authenticated"}, nil, true},
		{"ada's (admin) account in system:masters", adaCred, "ada", []string{"system:masters"}, nil, false},
		{"ada's (admin) account as bob", adaCred, "bob", auth, nil, false},
		{"the controller's credential as anyone", rc.saToken, "bob", auth, nil, false},
		{"the controller's credential in system:masters", rc.saToken, "jane", []string{"system:masters"}, nil, false},
	}
	for _, tc := range []struct {
		name, uid string
		ok        bool
	}{{"the uid account with its uid", "1000", true}, {"the uid account with another uid", "0", false}} {
		t.Run(tc.name, func(t *testing.T) {
			err := whoAsUID(janeCred, "jane", tc.uid, auth, nil)
			switch {
			case tc.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.ok && !apierrors.IsForbidden(err):
				t.Errorf("want Forbidden, got %v", err)
			}
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := whoAs(tc.cred, tc.user, tc.groups, tc.extra)
			switch {
			case tc.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.ok && !apierrors.IsForbidden(err):
				t.Errorf("want Forbidden, got %v", err)
			}
		})
	}
	s.checkNoSecretsLeaked()
}
