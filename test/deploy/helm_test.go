package deploy

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/drover-dev/drover/test/harness"
)

var update = flag.Bool("update", false, "regenerate deploy/manifests/*.yaml from the chart")

const (
	chartDir         = "deploy/helm/drover"
	serverManifest   = "deploy/manifests/server.yaml"
	replicasManifest = "deploy/manifests/server-replicas.yaml"
	// The plain manifests' release: name, namespace and the one value the
	// chart requires.
	releaseName      = "drover"
	releaseNamespace = "drover-system"
	exampleServerURL = "https://drover.example.com"
)

// helmBin returns the pinned helm the Makefile exports as $HELM.
func helmBin(t *testing.T) string {
	t.Helper()
	h := os.Getenv("HELM")
	if h == "" {
		t.Fatal("$HELM is not set: run `make helm` and pass HELM=$(make -s -f mk/helm.mk helm-print), or run the tests through make")
	}
	if _, err := os.Stat(h); err != nil {
		t.Fatalf("$HELM=%s: %v: run `make helm`", h, err)
	}
	return h
}

// helm runs helm in the repository root with a private home, so neither the
// user's helm config nor repositories play a part.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.CommandContext(t.Context(), helmBin(t), args...)
	cmd.Dir = harness.RepoRoot()
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), &cmdError{err: err, stderr: errb.String()}
	}
	return out.String(), nil
}

type cmdError struct {
	err    error
	stderr string
}

func (e *cmdError) Error() string { return e.err.Error() + ": " + e.stderr }

func helmTemplate(t *testing.T, set ...string) (string, error) {
	t.Helper()
	args := []string{"template", releaseName, chartDir, "--namespace", releaseNamespace}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return helm(t, args...)
}

// decodeAll decodes a multi-document YAML stream with the client-go scheme.
func decodeAll(t *testing.T, s string) []runtime.Object {
	t.Helper()
	dec := scheme.Codecs.UniversalDeserializer()
	var out []runtime.Object
	for _, doc := range strings.Split(s, "\n---\n") {
		if isEmptyDoc(doc) {
			continue
		}
		obj, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decode:\n%s\n: %v", doc, err)
		}
		out = append(out, obj)
	}
	return out
}

func isEmptyDoc(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "---" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func one[T runtime.Object](t *testing.T, objs []runtime.Object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T, want 1", len(found), zero)
	}
	return found[0]
}

func kinds(objs []runtime.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetObjectKind().GroupVersionKind().Kind)
	}
	slices.Sort(out)
	return out
}

func TestHelmLint(t *testing.T) {
	for _, set := range [][]string{
		{"serverURL=" + exampleServerURL},
		{"serverURL=" + exampleServerURL, "tls.existingSecret=drover-tls", "persistence.storageClass=fast"},
	} {
		args := []string{"lint", "--strict", chartDir}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		if out, err := helm(t, args...); err != nil {
			t.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestHelmTemplateDefaults(t *testing.T) {
	out, err := helmTemplate(t, "serverURL="+exampleServerURL)
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, out)
	// No Role, ClusterRole or binding: the server never calls the
	// management cluster's API.
	if diff := cmp.Diff([]string{"Deployment", "PersistentVolumeClaim", "Service", "ServiceAccount"}, kinds(objs)); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
	for _, o := range objs {
		if ns := o.(interface{ GetNamespace() string }).GetNamespace(); ns != releaseNamespace {
			t.Errorf("%T in namespace %q, want %q", o, ns, releaseNamespace)
		}
	}

	sa := one[*corev1.ServiceAccount](t, objs)
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("ServiceAccount automounts its token")
	}

	pvc := one[*corev1.PersistentVolumeClaim](t, objs)
	if pvc.Spec.StorageClassName != nil {
		t.Errorf("storageClassName %q, want unset (the default class)", *pvc.Spec.StorageClassName)
	}
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("PVC size %s, want 1Gi", got.String())
	}
	if diff := cmp.Diff([]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes); diff != "" {
		t.Errorf("access modes (-want +got):\n%s", diff)
	}
	if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("the data PVC is not kept on uninstall")
	}

	svc := one[*corev1.Service](t, objs)
	wantPorts := []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromString("https"), Protocol: corev1.ProtocolTCP}}
	if diff := cmp.Diff(wantPorts, svc.Spec.Ports); diff != "" {
		t.Errorf("service ports (-want +got):\n%s", diff)
	}

	d := one[*appsv1.Deployment](t, objs)
	if diff := cmp.Diff(svc.Spec.Selector, d.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("Service and Deployment select differently (-svc +deploy):\n%s", diff)
	}
	if *d.Spec.Replicas != 1 {
		t.Errorf("replicas %d, want 1", *d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate (one writer on the SQLite volume)", d.Spec.Strategy.Type)
	}
	spec := d.Spec.Template.Spec
	if spec.ServiceAccountName != sa.Name || spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("pod service account %q automount %v, want %q and false", spec.ServiceAccountName, spec.AutomountServiceAccountToken, sa.Name)
	}
	c := spec.Containers[0]
	if c.Image != "ghcr.io/drover-dev/drover-server:0.1.0" {
		t.Errorf("image %q", c.Image)
	}
	wantArgs := []string{
		"--data-dir=/data",
		"--listen=:8443",
		"--server-url=" + exampleServerURL,
		"--hostnames=drover,drover.drover-system,drover.drover-system.svc,drover.drover-system.svc.cluster.local",
		"--admin-username=admin",
		"--log-level=info",
	}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		want := corev1.HTTPGetAction{Path: path, Port: intstr.FromString("https"), Scheme: corev1.URISchemeHTTPS}
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("no probe on %s", path)
		} else if diff := cmp.Diff(want, *probe.HTTPGet); diff != "" {
			t.Errorf("probe %s (-want +got):\n%s", path, diff)
		}
	}
	yes, no, uid := true, false, int64(65532)
	wantSC := &corev1.SecurityContext{
		RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
		ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(wantSC, c.SecurityContext); diff != "" {
		t.Errorf("container securityContext (-want +got):\n%s", diff)
	}
	if spec.SecurityContext == nil || spec.SecurityContext.FSGroup == nil || *spec.SecurityContext.FSGroup != uid {
		t.Errorf("pod securityContext %+v, want fsGroup 65532", spec.SecurityContext)
	}
	wantMounts := []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "tmp", MountPath: "/tmp"}}
	if diff := cmp.Diff(wantMounts, c.VolumeMounts); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	if got := spec.Volumes[0].PersistentVolumeClaim; got == nil || got.ClaimName != pvc.Name {
		t.Errorf("data volume %+v, want claim %s", spec.Volumes[0], pvc.Name)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
		if _, ok := c.Resources.Limits[res]; !ok {
			t.Errorf("no %s limit", res)
		}
	}
	if len(c.Env) != 0 || len(c.EnvFrom) != 0 {
		t.Errorf("env %v envFrom %v, want none", c.Env, c.EnvFrom)
	}
}

func TestHelmTemplateTLSSecret(t *testing.T) {
	out, err := helmTemplate(t, "serverURL="+exampleServerURL, "tls.existingSecret=drover-tls")
	if err != nil {
		t.Fatal(err)
	}
	d := one[*appsv1.Deployment](t, decodeAll(t, out))
	c := d.Spec.Template.Spec.Containers[0]
	for _, a := range []string{"--tls-cert=/etc/drover/tls/tls.crt", "--tls-key=/etc/drover/tls/tls.key", "--ca-cert=/etc/drover/tls/ca.crt"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %q lack %s", c.Args, a)
		}
	}
	if !slices.Contains(c.VolumeMounts, corev1.VolumeMount{Name: "tls", MountPath: "/etc/drover/tls", ReadOnly: true}) {
		t.Errorf("mounts %+v lack the TLS Secret, read-only", c.VolumeMounts)
	}
	mode := int32(0o400)
	want := corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "drover-tls", DefaultMode: &mode}}}
	if !slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return cmp.Equal(v, want) }) {
		t.Errorf("volumes %+v lack %+v", d.Spec.Template.Spec.Volumes, want)
	}
}

// TestHelmTemplateReplicas: with a database, replicas roll one at a time,
// get the database URL (password included) from a Secret through the
// environment, never argv, reach one another at their pod IP, share the
// secrets key from a Secret (that key only, read-only), and keep no volume
// claim (the store is the database).
func TestHelmTemplateReplicas(t *testing.T) {
	out, err := helmTemplate(t, "serverURL="+exampleServerURL, "replicas=3", "database.existingSecret=drover-db",
		"secretsKey.existingSecret=drover-key")
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, out)
	if diff := cmp.Diff([]string{"Deployment", "Service", "ServiceAccount"}, kinds(objs)); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
	d := one[*appsv1.Deployment](t, objs)
	if *d.Spec.Replicas != 3 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("replicas %d, strategy %+v", *d.Spec.Replicas, d.Spec.Strategy)
	}
	c := d.Spec.Template.Spec.Containers[0]
	for _, a := range []string{"--peer-url=https://$(POD_IP):8443", "--secrets-key-file=/etc/drover/secrets/secrets.key"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %q lack %s", c.Args, a)
		}
	}
	for _, a := range c.Args {
		if strings.Contains(a, "postgres") || strings.Contains(a, "database-url") {
			t.Errorf("the database URL is on the command line: %s", a)
		}
	}
	wantEnv := []corev1.EnvVar{
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "DROVER_DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "drover-db"}, Key: "url"}}},
	}
	if diff := cmp.Diff(wantEnv, c.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if !slices.Contains(c.VolumeMounts, corev1.VolumeMount{Name: "secrets-key", MountPath: "/etc/drover/secrets", ReadOnly: true}) {
		t.Errorf("mounts %+v lack the secrets key, read-only", c.VolumeMounts)
	}
	mode := int32(0o400)
	want := corev1.Volume{Name: "secrets-key", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "drover-key",
		DefaultMode: &mode, Items: []corev1.KeyToPath{{Key: "secrets.key", Path: "secrets.key"}}}}}
	if !slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return cmp.Equal(v, want) }) {
		t.Errorf("volumes %+v lack %+v", d.Spec.Template.Spec.Volumes, want)
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			t.Errorf("volume %s is a claim: replicas on a database need none", v.Name)
		}
	}
}

// TestHelmTemplateBootstrapSecret: the first admin's password comes from a
// Secret, mounted read-only (that one key only) and passed as a file, so it
// never reaches the log.
func TestHelmTemplateBootstrapSecret(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
		key  string
	}{
		{"the default key", []string{"bootstrapPassword.existingSecret=drover-bootstrap"}, "password"},
		{"another key", []string{"bootstrapPassword.existingSecret=drover-bootstrap", "bootstrapPassword.key=admin"}, "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helmTemplate(t, append([]string{"serverURL=" + exampleServerURL}, tc.set...)...)
			if err != nil {
				t.Fatal(err)
			}
			d := one[*appsv1.Deployment](t, decodeAll(t, out))
			c := d.Spec.Template.Spec.Containers[0]
			if a := "--bootstrap-password-file=/etc/drover/bootstrap/" + tc.key; !slices.Contains(c.Args, a) {
				t.Errorf("args %q lack %s", c.Args, a)
			}
			if !slices.Contains(c.VolumeMounts, corev1.VolumeMount{Name: "bootstrap-password", MountPath: "/etc/drover/bootstrap", ReadOnly: true}) {
				t.Errorf("mounts %+v lack the bootstrap Secret, read-only", c.VolumeMounts)
			}
			mode := int32(0o400)
			want := corev1.Volume{Name: "bootstrap-password", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "drover-bootstrap", DefaultMode: &mode, Items: []corev1.KeyToPath{{Key: tc.key, Path: tc.key}}}}}
			if !slices.ContainsFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return cmp.Equal(v, want) }) {
				t.Errorf("volumes %+v lack %+v", d.Spec.Template.Spec.Volumes, want)
			}
		})
	}
}

func TestHelmTemplateValues(t *testing.T) {
	out, err := helmTemplate(t, "serverURL=https://10.1.2.3:8443", "persistence.storageClass=fast", "persistence.size=5Gi",
		"image.tag=v9.9.9", "hostnames={drover.internal,10.1.2.3}", "logLevel=debug", "persistence.keep=false",
		"metrics.enabled=true", "metrics.port=9100", "drivers.allowUnsandboxed=true")
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, out)
	pvc := one[*corev1.PersistentVolumeClaim](t, objs)
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "fast" {
		t.Errorf("storageClassName %v, want fast", pvc.Spec.StorageClassName)
	}
	if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("5Gi")) != 0 {
		t.Errorf("PVC size %s, want 5Gi", got.String())
	}
	if _, ok := pvc.Annotations["helm.sh/resource-policy"]; ok {
		t.Error("persistence.keep=false still keeps the PVC")
	}
	c := one[*appsv1.Deployment](t, objs).Spec.Template.Spec.Containers[0]
	if c.Image != "ghcr.io/drover-dev/drover-server:v9.9.9" {
		t.Errorf("image %q", c.Image)
	}
	for _, a := range []string{
		"--server-url=https://10.1.2.3:8443",
		"--hostnames=drover,drover.drover-system,drover.drover-system.svc,drover.drover-system.svc.cluster.local,drover.internal,10.1.2.3",
		"--log-level=debug",
		"--metrics-listen=:9100",
		"--allow-unsandboxed-drivers",
		"--driver-state-dir=/data/driver-state",
	} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %q lack %s", c.Args, a)
		}
	}
	if !slices.Contains(c.Ports, corev1.ContainerPort{Name: "metrics", ContainerPort: 9100, Protocol: corev1.ProtocolTCP}) {
		t.Errorf("ports %+v lack metrics", c.Ports)
	}

	// "-" asks for no storage class at all (static provisioning).
	out, err = helmTemplate(t, "serverURL="+exampleServerURL, "persistence.storageClass=-")
	if err != nil {
		t.Fatal(err)
	}
	pvc = one[*corev1.PersistentVolumeClaim](t, decodeAll(t, out))
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "" {
		t.Errorf("storageClassName %v, want empty", pvc.Spec.StorageClassName)
	}
}

func TestHelmTemplateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"no serverURL", nil, "serverURL is required"},
		{"http serverURL", []string{"serverURL=http://drover.example.com"}, "must be an https URL"},
		{"serverURL with path", []string{"serverURL=https://drover.example.com/x"}, "must be an https URL"},
		{"two replicas on SQLite", []string{"serverURL=" + exampleServerURL, "replicas=2"},
			"replicas is 2, but without database.existingSecret the store is SQLite on a ReadWriteOnce volume, which only one server pod may use"},
		{"a database without the shared secrets key", []string{"serverURL=" + exampleServerURL, "replicas=2", "database.existingSecret=db"},
			"every replica must have the same secrets key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helmTemplate(t, tc.set...)
			if err == nil {
				t.Fatalf("helm template succeeded, want it to fail with %q:\n%s", tc.want, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template: %v\nwant the message to contain %q", err, tc.want)
			}
		})
	}
}

// plainManifest is a plain-manifest rendering of the chart: where it goes, the
// values it is rendered with, and what its header says.
type plainManifest struct {
	path   string
	set    []string
	header string
	kinds  []string
}

var manifests = []plainManifest{
	{path: serverManifest, set: []string{"serverURL=" + exampleServerURL},
		header: `# Drover server as plain manifests: the Helm chart deploy/helm/drover with its
# default values, release "` + releaseName + `" in namespace ` + releaseNamespace + `.
# Generated by ` + "`make -f mk/helm.mk deploy-manifests`" + `; do not edit (test/deploy
# fails when it is stale).
#
# Before applying, replace ` + exampleServerURL + ` (--server-url) with the
# server's external URL:
#   sed 's#` + exampleServerURL + `#https://drover.your.domain#' server.yaml | kubectl apply -f -
# The admin password is printed once to the server's log.
`, kinds: []string{"Deployment", "Namespace", "PersistentVolumeClaim", "Service", "ServiceAccount"}},
	{path: replicasManifest, set: []string{"serverURL=" + exampleServerURL, "replicas=3",
		"database.existingSecret=drover-database", "secretsKey.existingSecret=drover-secrets-key"},
		header: `# Drover server replicas on PostgreSQL as plain manifests: the Helm chart
# deploy/helm/drover with replicas=3, database.existingSecret=drover-database and
# secretsKey.existingSecret=drover-secrets-key, release "` + releaseName + `" in namespace
# ` + releaseNamespace + `. Generated by ` + "`make -f mk/helm.mk deploy-manifests`" + `; do not edit.
#
# Before applying, create the two Secrets and replace ` + exampleServerURL + `:
#   kubectl create namespace ` + releaseNamespace + `
#   kubectl -n ` + releaseNamespace + ` create secret generic drover-database \
#     --from-literal=url='postgres://drover:PASSWORD@db.example.com:5432/drover?sslmode=verify-full'
#   kubectl -n ` + releaseNamespace + ` create secret generic drover-secrets-key \
#     --from-literal=secrets.key="$(head -c32 /dev/urandom | base64)"
#   sed 's#` + exampleServerURL + `#https://drover.your.domain#' server-replicas.yaml | kubectl apply -f -
# Put a load balancer that passes TLS through (TCP) in front of the Service for
# kubectl and agents alike; see docs/operations.md.
`, kinds: []string{"Deployment", "Namespace", "Service", "ServiceAccount"}},
}

// render is the manifest: its header, the namespace, then the chart.
func (m plainManifest) render(t *testing.T) []byte {
	t.Helper()
	out, err := helmTemplate(t, m.set...)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(m.header + `---
apiVersion: v1
kind: Namespace
metadata:
  name: ` + releaseNamespace + `
`)
	b.WriteString(out)
	return b.Bytes()
}

// TestServerManifest checks deploy/manifests/*.yaml are what the chart
// renders; -update rewrites them.
func TestServerManifest(t *testing.T) {
	for _, m := range manifests {
		t.Run(filepath.Base(m.path), func(t *testing.T) {
			want := m.render(t)
			path := filepath.Join(harness.RepoRoot(), m.path)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v: run `make -f mk/helm.mk deploy-manifests`", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s is stale; run `make -f mk/helm.mk deploy-manifests` (-want +got):\n%s", m.path, diff)
			}
			if diff := cmp.Diff(m.kinds, kinds(decodeAll(t, string(got)))); diff != "" {
				t.Errorf("kinds (-want +got):\n%s", diff)
			}
		})
	}
}
