package manifest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/token"
)

const (
	testURL      = "https://drover.example.com"
	testChecksum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testImage    = "ghcr.io/drover-dev/drover-agent:v0.1.0"
)

func newToken(t *testing.T) string {
	t.Helper()
	tok, err := token.New(ids.Registration)
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

func validOptions(t *testing.T) Options {
	return Options{ServerURL: testURL, CAChecksum: testChecksum, Token: newToken(t), Image: testImage}
}

func TestValidate(t *testing.T) {
	nodeTok := newToken(t)
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr []string // substrings; none means valid
	}{
		{name: "valid", mutate: func(*Options) {}},
		{name: "valid with port and trailing slash", mutate: func(o *Options) { o.ServerURL = "https://10.0.0.1:8443/" }},
		{name: "valid upper-case checksum", mutate: func(o *Options) { o.CAChecksum = strings.ToUpper(testChecksum) }},
		{name: "valid mixed-case checksum", mutate: func(o *Options) { o.CAChecksum = strings.ToUpper(testChecksum[:20]) + testChecksum[20:] }},
		{name: "valid with node agent", mutate: func(o *Options) { o.NodeAgent, o.NodeToken = true, nodeTok }},
		{name: "valid with auth endpoint", mutate: func(o *Options) { o.AuthEndpoint = &ACEOptions{} }},
		{name: "valid registry with port and digest", mutate: func(o *Options) {
			o.Image = "localhost:5000/drover-agent@sha256:" + strings.Repeat("a", 64)
		}},
		{name: "http URL", mutate: func(o *Options) { o.ServerURL = "http://drover.example.com" }, wantErr: []string{"must be an https URL"}},
		{name: "URL without host", mutate: func(o *Options) { o.ServerURL = "https://" }, wantErr: []string{"must be an https URL"}},
		{name: "URL with path", mutate: func(o *Options) { o.ServerURL = testURL + "/drover" }, wantErr: []string{"no path"}},
		{name: "URL with credentials", mutate: func(o *Options) { o.ServerURL = "https://u:p@drover.example.com" }, wantErr: []string{"credentials"}},
		{name: "empty URL", mutate: func(o *Options) { o.ServerURL = "" }, wantErr: []string{"must be an https URL"}},
		{name: "short checksum", mutate: func(o *Options) { o.CAChecksum = testChecksum[1:] }, wantErr: []string{"CA checksum must be 64 hex characters (a SHA-256), not 63"}},
		{name: "non-hex checksum", mutate: func(o *Options) { o.CAChecksum = "g" + testChecksum[1:] }, wantErr: []string{"CA checksum must be 64 hex", "character 1 is not a hex digit"}},
		{name: "no checksum", mutate: func(o *Options) { o.CAChecksum = "" }, wantErr: []string{"64 hex"}},
		{name: "no token", mutate: func(o *Options) { o.Token = "" }, wantErr: []string{"registration token is required"}},
		{name: "malformed token", mutate: func(o *Options) { o.Token = "not a token" }, wantErr: []string{"registration token is malformed"}},
		{name: "no image", mutate: func(o *Options) { o.Image = "" }, wantErr: []string{"image is required"}},
		{name: "image with space", mutate: func(o *Options) { o.Image = "drover agent" }, wantErr: []string{"not an image reference"}},
		{name: "image with scheme", mutate: func(o *Options) { o.Image = "https://ghcr.io/x" }, wantErr: []string{"not an image reference"}},
		{name: "node agent without token", mutate: func(o *Options) { o.NodeAgent = true }, wantErr: []string{"needs a node registration token"}},
		{name: "node token without node agent", mutate: func(o *Options) { o.NodeToken = nodeTok }, wantErr: []string{"without the node agent"}},
		{name: "malformed node token", mutate: func(o *Options) { o.NodeAgent, o.NodeToken = true, "x" }, wantErr: []string{"node registration token is malformed"}},
		{name: "cluster token for node agent", mutate: func(o *Options) { o.NodeAgent, o.NodeToken = true, o.Token }, wantErr: []string{"not the cluster's"}},
		{name: "bad auth endpoint port", mutate: func(o *Options) { o.AuthEndpoint = &ACEOptions{Port: 70000} }, wantErr: []string{"out of range"}},
		{name: "bad auth endpoint image", mutate: func(o *Options) { o.AuthEndpoint = &ACEOptions{Image: "A B"} }, wantErr: []string{"auth endpoint image"}},
		{
			name:    "all errors at once",
			mutate:  func(o *Options) { *o = Options{} },
			wantErr: []string{"https URL", "64 hex", "token is required", "image is required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions(t)
			tt.mutate(&o)
			err := o.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors containing %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			for _, secret := range []string{o.Token, o.NodeToken} {
				if len(secret) > 3 && strings.Contains(err.Error(), secret) {
					t.Errorf("Validate() error contains a token: %q", err)
				}
			}
			if _, rerr := Render(o); rerr == nil {
				t.Error("Render() accepted options Validate refuses")
			}
		})
	}
}

// rendered is a decoded manifest.
type rendered struct {
	raw  []byte
	docs [][]byte
	objs []runtime.Object
}

func render(t *testing.T, o Options) rendered {
	t.Helper()
	raw, err := Render(o)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	r := rendered{raw: raw}
	dec := scheme.Codecs.UniversalDeserializer()
	for _, d := range bytes.Split(raw, []byte("\n---\n")) {
		obj, gvk, err := dec.Decode(d, nil, nil)
		if err != nil {
			t.Fatalf("decode document:\n%s\n: %v", d, err)
		}
		if gvk.Kind == "" || gvk.Version == "" {
			t.Fatalf("document without apiVersion/kind:\n%s", d)
		}
		r.docs = append(r.docs, d)
		r.objs = append(r.objs, obj)
	}
	return r
}

func (r rendered) names() []string {
	var out []string
	for _, o := range r.objs {
		m := o.(interface {
			GetName() string
			GetNamespace() string
		})
		out = append(out, fmt.Sprintf("%s %s/%s", o.GetObjectKind().GroupVersionKind().Kind, m.GetNamespace(), m.GetName()))
	}
	return out
}

func find[T runtime.Object](t *testing.T, r rendered, name string) T {
	t.Helper()
	for _, o := range r.objs {
		if v, ok := o.(T); ok && o.(interface{ GetName() string }).GetName() == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T %q in the manifest", zero, name)
	return zero
}

func TestRenderObjects(t *testing.T) {
	base := []string{
		"Namespace /cattle-system",
		"ServiceAccount cattle-system/cattle",
		"ClusterRole /drover-agent",
		"ClusterRoleBinding /drover-agent",
		"Role cattle-system/drover-agent",
		"RoleBinding cattle-system/drover-agent",
		"Secret cattle-system/cattle-credentials",
		"Deployment cattle-system/cattle-cluster-agent",
	}
	node := []string{
		"ServiceAccount cattle-system/cattle-node",
		"Secret cattle-system/cattle-node-credentials",
		"DaemonSet cattle-system/cattle-node-agent",
	}
	ace := []string{
		"ServiceAccount cattle-system/kube-api-auth",
		"Role cattle-system/kube-api-auth",
		"RoleBinding cattle-system/kube-api-auth",
		"DaemonSet cattle-system/kube-api-auth",
	}
	tests := []struct {
		name   string
		mutate func(*Options)
		want   []string
	}{
		{"cluster agent only", func(*Options) {}, base},
		{"with node agent", func(o *Options) { o.NodeAgent, o.NodeToken = true, newToken(t) }, slices.Concat(base, node)},
		{"with auth endpoint", func(o *Options) { o.AuthEndpoint = &ACEOptions{} }, slices.Concat(base, ace)},
		{"everything", func(o *Options) {
			o.NodeAgent, o.NodeToken = true, newToken(t)
			o.AuthEndpoint = &ACEOptions{}
		}, slices.Concat(base, node, ace)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions(t)
			tt.mutate(&o)
			r := render(t, o)
			if diff := cmp.Diff(tt.want, r.names()); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			for _, obj := range r.objs {
				m := obj.(interface{ GetLabels() map[string]string })
				if got := m.GetLabels()[downstream.ManagedByLabel]; got != downstream.ManagedByValue {
					t.Errorf("%T has %s=%q, want %q", obj, downstream.ManagedByLabel, got, downstream.ManagedByValue)
				}
			}
		})
	}
}

func TestClusterAgentDeployment(t *testing.T) {
	o := validOptions(t)
	r := render(t, o)
	d := find[*appsv1.Deployment](t, r, ClusterAgentName)

	if diff := cmp.Diff(int32(1), *d.Spec.Replicas); diff != "" {
		t.Errorf("replicas (-want +got):\n%s", diff)
	}
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	wantStrategy := appsv1.DeploymentStrategy{
		Type:          appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &one},
	}
	if diff := cmp.Diff(wantStrategy, d.Spec.Strategy); diff != "" {
		t.Errorf("strategy (-want +got):\n%s", diff)
	}
	spec := d.Spec.Template.Spec
	if spec.ServiceAccountName != ClusterAgentServiceAccount || spec.AutomountServiceAccountToken == nil || !*spec.AutomountServiceAccountToken {
		t.Errorf("service account %q automount %v, want %q and true", spec.ServiceAccountName, spec.AutomountServiceAccountToken, ClusterAgentServiceAccount)
	}
	if diff := cmp.Diff(d.Spec.Selector.MatchLabels, subset(d.Spec.Template.Labels, d.Spec.Selector.MatchLabels)); diff != "" {
		t.Errorf("selector does not match the pod labels (-selector +pod):\n%s", diff)
	}
	checkAgentPod(t, spec, o, "cluster", CredentialsSecret, nil)
}

// TestChecksumLowerCase: a checksum given in any case reaches the agents in
// lower case, the one form Drover writes.
func TestChecksumLowerCase(t *testing.T) {
	o := validOptions(t)
	o.NodeAgent, o.NodeToken = true, newToken(t)
	o.CAChecksum = strings.ToUpper(testChecksum[:32]) + testChecksum[32:]
	r := render(t, o)
	for _, spec := range []corev1.PodSpec{
		find[*appsv1.Deployment](t, r, ClusterAgentName).Spec.Template.Spec,
		find[*appsv1.DaemonSet](t, r, NodeAgentName).Spec.Template.Spec,
	} {
		var got []string
		for _, e := range spec.Containers[0].Env {
			if e.Name == "CATTLE_CA_CHECKSUM" {
				got = append(got, e.Value)
			}
		}
		if diff := cmp.Diff([]string{testChecksum}, got); diff != "" {
			t.Errorf("CATTLE_CA_CHECKSUM (-want +got):\n%s", diff)
		}
	}
}

func TestNodeAgentDaemonSet(t *testing.T) {
	o := validOptions(t)
	o.NodeAgent, o.NodeToken = true, newToken(t)
	r := render(t, o)
	ds := find[*appsv1.DaemonSet](t, r, NodeAgentName)
	spec := ds.Spec.Template.Spec
	if spec.ServiceAccountName != NodeAgentServiceAccount {
		t.Errorf("service account %q, want %q", spec.ServiceAccountName, NodeAgentServiceAccount)
	}
	if diff := cmp.Diff([]corev1.Toleration{{Operator: corev1.TolerationOpExists}}, spec.Tolerations); diff != "" {
		t.Errorf("tolerations (-want +got):\n%s", diff)
	}
	nodeName := corev1.EnvVar{Name: "CATTLE_NODE_NAME", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"},
	}}
	checkAgentPod(t, spec, o, "node", NodeCredentialsSecret, &nodeName)
	// Each Secret carries its own token.
	if got := string(find[*corev1.Secret](t, r, NodeCredentialsSecret).Data["token"]); got != o.NodeToken {
		t.Error("cattle-node-credentials does not hold the node token")
	}
}

// checkAgentPod asserts what both agents' pods share.
func checkAgentPod(t *testing.T, spec corev1.PodSpec, o Options, kind, secret string, extraEnv *corev1.EnvVar) {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.Image != o.Image {
		t.Errorf("image %q, want %q", c.Image, o.Image)
	}
	wantEnv := []corev1.EnvVar{
		{Name: "CATTLE_SERVER", Value: o.ServerURL},
		{Name: "CATTLE_CA_CHECKSUM", Value: o.CAChecksum},
		{Name: "CATTLE_TOKEN_FILE", Value: "/cattle-credentials/token"},
		{Name: "CATTLE_AGENT_KIND", Value: kind},
	}
	if extraEnv != nil {
		wantEnv = append(wantEnv, *extraEnv)
	}
	if diff := cmp.Diff(wantEnv, c.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if len(c.EnvFrom) != 0 {
		t.Errorf("envFrom %v: the token must come from a file only", c.EnvFrom)
	}
	if diff := cmp.Diff([]string{"--health-listen", ":8090"}, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.VolumeMount{{Name: "credentials", MountPath: "/cattle-credentials", ReadOnly: true}}, c.VolumeMounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	mode := int32(0o400)
	wantVolumes := []corev1.Volume{{Name: "credentials", VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: secret, DefaultMode: &mode},
	}}}
	if diff := cmp.Diff(wantVolumes, spec.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.ContainerPort{{Name: "health", ContainerPort: 8090, Protocol: corev1.ProtocolTCP}}, c.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	for probe, want := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("no httpGet probe for %s", want)
			continue
		}
		if diff := cmp.Diff(corev1.HTTPGetAction{Path: want, Port: intstr.FromString("health"), Scheme: corev1.URISchemeHTTP}, *probe.HTTPGet); diff != "" {
			t.Errorf("probe %s (-want +got):\n%s", want, diff)
		}
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
		if _, ok := c.Resources.Limits[res]; !ok {
			t.Errorf("no %s limit", res)
		}
	}
	checkSecurity(t, spec, c)
}

func checkSecurity(t *testing.T, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	yes, no, uid := true, false, int64(65532)
	wantContainer := &corev1.SecurityContext{
		RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
		ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(wantContainer, c.SecurityContext); diff != "" {
		t.Errorf("container securityContext (-want +got):\n%s", diff)
	}
	wantPod := &corev1.PodSecurityContext{
		RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(wantPod, spec.SecurityContext); diff != "" {
		t.Errorf("pod securityContext (-want +got):\n%s", diff)
	}
	if spec.HostPID || spec.HostIPC {
		t.Error("host PID or IPC namespace shared")
	}
}

func TestAuthEndpointDaemonSet(t *testing.T) {
	for _, tt := range []struct {
		name      string
		ace       ACEOptions
		wantImage string
		wantPort  int32
	}{
		{"defaults", ACEOptions{}, testImage, 6440},
		{"custom", ACEOptions{Image: "example.com/kube-api-auth:v1", Port: 7443}, "example.com/kube-api-auth:v1", 7443},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions(t)
			o.AuthEndpoint = &tt.ace
			r := render(t, o)
			spec := find[*appsv1.DaemonSet](t, r, ACEName).Spec.Template.Spec
			if !spec.HostNetwork {
				t.Error("hostNetwork is false")
			}
			if spec.ServiceAccountName != ACEServiceAccount {
				t.Errorf("service account %q, want %q", spec.ServiceAccountName, ACEServiceAccount)
			}
			if diff := cmp.Diff(map[string]string{"kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": ""}, spec.NodeSelector); diff != "" {
				t.Errorf("nodeSelector (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]corev1.Toleration{{Operator: corev1.TolerationOpExists}}, spec.Tolerations); diff != "" {
				t.Errorf("tolerations (-want +got):\n%s", diff)
			}
			c := spec.Containers[0]
			if c.Image != tt.wantImage {
				t.Errorf("image %q, want %q", c.Image, tt.wantImage)
			}
			wantArgs := []string{"auth-endpoint", "--listen", fmt.Sprintf("127.0.0.1:%d", tt.wantPort),
				"--tls-cert-file", "/etc/kube-api-auth/tls.crt", "--tls-key-file", "/etc/kube-api-auth/tls.key"}
			if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			for probe, name := range map[*corev1.Probe]string{c.LivenessProbe: "liveness", c.ReadinessProbe: "readiness"} {
				want := corev1.HTTPGetAction{Host: "127.0.0.1", Path: "/healthz", Port: intstr.FromInt32(tt.wantPort), Scheme: corev1.URISchemeHTTPS}
				if probe == nil || probe.HTTPGet == nil {
					t.Errorf("no %s probe", name)
				} else if diff := cmp.Diff(want, *probe.HTTPGet); diff != "" {
					t.Errorf("%s probe (-want +got):\n%s", name, diff)
				}
			}
			if len(c.Env) != 0 {
				t.Errorf("kube-api-auth gets env %v, want none", c.Env)
			}
			// Only its serving certificate is mounted, read-only.
			if len(spec.Volumes) != 1 || spec.Volumes[0].Secret == nil || spec.Volumes[0].Secret.SecretName != "kube-api-auth-tls" {
				t.Errorf("volumes %+v, want the kube-api-auth-tls Secret only", spec.Volumes)
			}
			if diff := cmp.Diff([]corev1.VolumeMount{{Name: "tls", MountPath: "/etc/kube-api-auth", ReadOnly: true}}, c.VolumeMounts); diff != "" {
				t.Errorf("mounts (-want +got):\n%s", diff)
			}
			checkSecurity(t, spec, c)
		})
	}
}

func TestTokenOnlyInSecret(t *testing.T) {
	o := validOptions(t)
	o.NodeAgent, o.NodeToken = true, newToken(t)
	o.AuthEndpoint = &ACEOptions{}
	r := render(t, o)
	for _, tc := range []struct{ tok, secret string }{{o.Token, CredentialsSecret}, {o.NodeToken, NodeCredentialsSecret}} {
		plain := bytes.Count(r.raw, []byte(tc.tok))
		encoded := bytes.Count(r.raw, []byte(base64.StdEncoding.EncodeToString([]byte(tc.tok))))
		if plain+encoded != 1 {
			t.Errorf("token for %s appears %d times in clear and %d base64-encoded, want once in all", tc.secret, plain, encoded)
		}
		// The secret part alone must not leak anywhere either.
		_, secretPart, _ := strings.Cut(tc.tok, ":")
		if bytes.Contains(r.raw, []byte(secretPart)) {
			t.Errorf("the secret of the %s token appears in clear", tc.secret)
		}
		s := find[*corev1.Secret](t, r, tc.secret)
		if s.Type != corev1.SecretTypeOpaque {
			t.Errorf("%s type %q, want Opaque", tc.secret, s.Type)
		}
		if got := string(s.Data["token"]); got != tc.tok {
			t.Errorf("%s does not hold its token", tc.secret)
		}
		if got := string(s.Data["url"]); got != o.ServerURL {
			t.Errorf("%s url %q, want %q", tc.secret, got, o.ServerURL)
		}
	}
	// Belt and braces: no env var or argument of any container holds it.
	for _, obj := range r.objs {
		var spec *corev1.PodSpec
		switch w := obj.(type) {
		case *appsv1.Deployment:
			spec = &w.Spec.Template.Spec
		case *appsv1.DaemonSet:
			spec = &w.Spec.Template.Spec
		default:
			continue
		}
		for _, c := range spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					t.Errorf("%s: env %s comes from a Secret", c.Name, e.Name)
				}
				if strings.Contains(e.Value, o.Token) || strings.Contains(e.Value, o.NodeToken) {
					t.Errorf("%s: env %s holds a token", c.Name, e.Name)
				}
			}
			for _, a := range slices.Concat(c.Command, c.Args) {
				if strings.Contains(a, o.Token) || strings.Contains(a, o.NodeToken) {
					t.Errorf("%s: an argument holds a token", c.Name)
				}
			}
		}
	}
}

// request is one API call an agent makes with its own credential.
type request struct {
	verb, group, resource, namespace, name string
}

func (q request) String() string {
	return fmt.Sprintf("%s %s/%s %s/%s", q.verb, q.group, q.resource, q.namespace, q.name)
}

// allows is RBAC's rule evaluation, without wildcards (which the manifest
// must not use; TestRBACNoWildcards checks that).
func allows(rules []rbacv1.PolicyRule, q request) bool {
	for _, r := range rules {
		if slices.Contains(r.Verbs, q.verb) && slices.Contains(r.APIGroups, q.group) &&
			slices.Contains(r.Resources, q.resource) &&
			(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, q.name)) {
			return true
		}
	}
	return false
}

// rulesFor gathers the rules bound to ServiceAccount sa, by namespace ("" for
// cluster-wide).
func rulesFor(t *testing.T, r rendered, sa string) map[string][]rbacv1.PolicyRule {
	t.Helper()
	out := map[string][]rbacv1.PolicyRule{}
	bound := func(subjects []rbacv1.Subject) bool {
		return slices.Contains(subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: sa, Namespace: downstream.Namespace})
	}
	for _, obj := range r.objs {
		switch b := obj.(type) {
		case *rbacv1.ClusterRoleBinding:
			if bound(b.Subjects) {
				out[""] = append(out[""], find[*rbacv1.ClusterRole](t, r, b.RoleRef.Name).Rules...)
			}
		case *rbacv1.RoleBinding:
			if bound(b.Subjects) {
				if b.RoleRef.Kind != "Role" {
					t.Fatalf("RoleBinding %s binds a %s", b.Name, b.RoleRef.Kind)
				}
				out[b.Namespace] = append(out[b.Namespace], find[*rbacv1.Role](t, r, b.RoleRef.Name).Rules...)
			}
		}
	}
	return out
}

func can(rules map[string][]rbacv1.PolicyRule, q request) bool {
	return allows(rules[""], q) || (q.namespace != "" && allows(rules[q.namespace], q))
}

const rbacGroup = "rbac.authorization.k8s.io"

// TestClusterAgentRights checks the cluster agent can make every call
// package agent makes (server-side apply is authorized as patch, and as
// create with the name when the object is new) and not more than intended.
func TestClusterAgentRights(t *testing.T) {
	for _, ace := range []bool{false, true} {
		t.Run(fmt.Sprintf("ace=%v", ace), func(t *testing.T) {
			o := validOptions(t)
			if ace {
				o.AuthEndpoint = &ACEOptions{}
			}
			rules := rulesFor(t, render(t, o), ClusterAgentServiceAccount)
			ns := downstream.Namespace
			var must []request
			// Server-side apply: patch, and create (with the name) when new.
			for _, verb := range []string{"create", "patch", "get"} {
				must = append(must,
					request{verb, "", "namespaces", "", ns},
					request{verb, "", "serviceaccounts", ns, downstream.ControllerServiceAccount},
					request{verb, rbacGroup, "clusterroles", "", downstream.ControllerClusterRole},
					request{verb, rbacGroup, "clusterroles", "", downstream.ClusterMemberRole},
					request{verb, rbacGroup, "clusterrolebindings", "", downstream.ControllerBinding},
					request{verb, rbacGroup, "clusterrolebindings", "", downstream.AdminBinding},
					request{verb, rbacGroup, "roles", ns, downstream.ControllerRole},
					request{verb, rbacGroup, "rolebindings", ns, downstream.ControllerRole},
				)
			}
			must = append(must,
				request{"escalate", rbacGroup, "clusterroles", "", downstream.ClusterMemberRole},
				request{"escalate", rbacGroup, "clusterroles", "", downstream.ControllerClusterRole},
				request{"bind", rbacGroup, "clusterroles", "", "cluster-admin"},
				request{"bind", rbacGroup, "clusterroles", "", downstream.ControllerClusterRole},
				request{"escalate", rbacGroup, "roles", ns, downstream.ControllerRole},
				request{"bind", rbacGroup, "roles", ns, downstream.ControllerRole},
				request{"create", "", "serviceaccounts/token", ns, downstream.ControllerServiceAccount},
			)
			mustNot := []request{
				{"create", "", "namespaces", "", "kube-system"},
				{"delete", "", "namespaces", "", ns},
				{"patch", "", "serviceaccounts", ns, "default"},
				{"patch", "", "serviceaccounts", "kube-system", downstream.ControllerServiceAccount},
				{"patch", "", "serviceaccounts", ns, downstream.LegacyImpersonator},
				{"create", "", "serviceaccounts/token", ns, ClusterAgentServiceAccount},
				{"create", "", "serviceaccounts/token", ns, downstream.LegacyImpersonator},
				{"create", "", "serviceaccounts/token", ns, "drover-imp-0123"},
				{"escalate", rbacGroup, "clusterroles", "", "drover-imp-0123"},
				{"bind", rbacGroup, "clusterroles", "", "drover-imp-0123"},
				{"create", "", "serviceaccounts/token", "kube-system", "default"},
				{"escalate", rbacGroup, "clusterroles", "", "cluster-admin"},
				{"escalate", rbacGroup, "roles", "kube-system", downstream.ControllerRole},
				{"escalate", rbacGroup, "roles", ns, "other"},
				{"bind", rbacGroup, "clusterroles", "", "admin"},
				{"bind", rbacGroup, "roles", "kube-system", downstream.ControllerRole},
				{"impersonate", "", "users", "", "admin"},
				{"impersonate", "", "groups", "", "system:masters"},
				{"get", "", "secrets", "kube-system", "x"},
				{"get", "", "secrets", ns, CredentialsSecret},
				{"list", "", "secrets", ns, ""},
				{"list", "", "nodes", "", ""},
				{"create", "", "pods", ns, ""},
				{"deletecollection", rbacGroup, "clusterroles", "", ""},
				// Drover's other RBAC objects are the server controller's
				// business, on its own credential.
				{"list", rbacGroup, "clusterroles", "", ""},
				{"watch", rbacGroup, "rolebindings", "", ""},
				{"delete", rbacGroup, "roles", "p-1234", "drover-project-member"},
				{"update", rbacGroup, "rolebindings", "p-1234", "drover-project-member"},
				{"patch", rbacGroup, "clusterroles", "", "drover-imp-0123"},
				{"patch", rbacGroup, "clusterrolebindings", "", "cluster-admin"},
				{"delete", rbacGroup, "clusterrolebindings", "", downstream.AdminBinding},
				{"create", "certificates.k8s.io", "certificatesigningrequests", "", ""},
			}
			for _, q := range must {
				if !can(rules, q) {
					t.Errorf("cluster agent cannot %s", q)
				}
			}
			for _, q := range mustNot {
				if can(rules, q) {
					t.Errorf("cluster agent can %s", q)
				}
			}
		})
	}
}

// TestNodeAgentRights: a node agent runs on every node and carries bytes,
// so its identity holds no right at all (no Role, no binding): it cannot
// mint or read any token.
func TestNodeAgentRights(t *testing.T) {
	o := validOptions(t)
	o.NodeAgent, o.NodeToken = true, newToken(t)
	o.AuthEndpoint = &ACEOptions{}
	rules := rulesFor(t, render(t, o), NodeAgentServiceAccount)
	if len(rules) != 0 {
		t.Errorf("node agent rules: %v; want none", rules)
	}
}

func TestRBACNoWildcards(t *testing.T) {
	o := validOptions(t)
	o.NodeAgent, o.NodeToken = true, newToken(t)
	o.AuthEndpoint = &ACEOptions{}
	r := render(t, o)
	known := []string{"get", "list", "watch", "create", "update", "patch", "delete", "bind", "escalate"}
	for i, obj := range r.objs {
		var rules []rbacv1.PolicyRule
		switch role := obj.(type) {
		case *rbacv1.ClusterRole:
			rules = role.Rules
			if role.AggregationRule != nil {
				t.Errorf("ClusterRole %s aggregates", role.Name)
			}
		case *rbacv1.Role:
			rules = role.Rules
		default:
			continue
		}
		for _, rule := range rules {
			for _, s := range slices.Concat(rule.Verbs, rule.Resources, rule.APIGroups, rule.ResourceNames, rule.NonResourceURLs) {
				if strings.Contains(s, "*") {
					t.Errorf("%s: rule %+v has a wildcard", r.names()[i], rule)
				}
			}
			for _, v := range rule.Verbs {
				if !slices.Contains(known, v) {
					t.Errorf("%s: unexpected verb %q", r.names()[i], v)
				}
			}
		}
		// Every rule is justified in the comment above the role.
		if got := bytes.Count(r.docs[i], []byte("\n# rule ")) + boolInt(bytes.HasPrefix(r.docs[i], []byte("# rule "))); got != len(rules) {
			t.Errorf("%s: %d rule comments for %d rules", r.names()[i], got, len(rules))
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func subset(m, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestRenderDeterministic(t *testing.T) {
	o := validOptions(t)
	o.NodeAgent, o.NodeToken = true, newToken(t)
	o.AuthEndpoint = &ACEOptions{}
	a, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two renders of the same options differ")
	}
}
