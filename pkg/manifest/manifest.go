package manifest

import (
	"bytes"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/downstream"
)

// Names of the workloads, Secrets and paths in the manifest.
const (
	ClusterAgentName = downstream.ClusterAgentWorkload
	NodeAgentName    = downstream.NodeAgentWorkload
	ACEName          = "kube-api-auth"

	CredentialsSecret     = "cattle-credentials"
	NodeCredentialsSecret = "cattle-node-credentials"
	// CredentialsDir is where the Secret is mounted; the agent reads
	// CredentialsDir/token (its default --token-file) before every connect,
	// so a rotated token is picked up without a restart.
	CredentialsDir = "/cattle-credentials"
	TokenFile      = CredentialsDir + "/token"

	// HealthPort serves /healthz and /readyz (agent --health-listen).
	HealthPort int32 = 8090

	// NonRootUID is distroless's "nonroot" user, which the images run as.
	NonRootUID int64 = 65532
)

// document is one YAML document and the comment printed above it.
type document struct {
	comment []string
	obj     runtime.Object
}

// Render validates o and returns the manifest as multi-document YAML.
func Render(o Options) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("invalid manifest options: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString("# Drover agent manifest. Apply it with cluster-admin rights:\n" +
		"#   kubectl apply -f <this file or its URL>\n" +
		"# It holds the cluster's registration token: treat it as a secret.\n")
	for i, d := range documents(o) {
		if i > 0 {
			buf.WriteString("---\n")
		}
		for _, c := range d.comment {
			writeComment(&buf, c)
		}
		b, err := marshal(d.obj)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

func documents(o Options) []document {
	labels := downstream.Labels()
	meta := func(name string, namespaced bool) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Name: name, Labels: copyLabels(labels)}
		if namespaced {
			m.Namespace = downstream.Namespace
		}
		return m
	}

	docs := []document{
		{
			comment: []string{"Drover's namespace downstream: the agents, their credentials, the controller's account and the impersonation accounts."},
			obj: &corev1.Namespace{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
				ObjectMeta: meta(downstream.Namespace, false),
			},
		},
		{
			comment: []string{"The cluster agent's identity; its rights are drover-agent below."},
			obj:     serviceAccount(meta(ClusterAgentServiceAccount, true)),
		},
	}

	clusterRules := clusterAgentClusterRules()
	docs = append(docs,
		document{
			comment: append([]string{"The cluster agent's cluster-scoped rights: what package agent does with " +
				"its own credential, and managing Drover's own RBAC objects for the server. No wildcards."},
				ruleComments(clusterRules)...),
			obj: &rbacv1.ClusterRole{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
				ObjectMeta: meta(ClusterAgentRole, false),
				Rules:      policyRules(clusterRules),
			},
		},
		document{
			obj: &rbacv1.ClusterRoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
				ObjectMeta: meta(ClusterAgentRole, false),
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ClusterAgentRole},
				Subjects:   []rbacv1.Subject{saSubject(ClusterAgentServiceAccount)},
			},
		},
	)
	nsRules := clusterAgentNamespaceRules()
	docs = append(docs, roleDocs(meta(ClusterAgentRole, true), ClusterAgentServiceAccount,
		"The cluster agent's rights in "+downstream.Namespace+", a Role so they stop at this namespace.", nsRules)...)

	docs = append(docs,
		document{
			comment: []string{"The cluster's registration token, read by the cluster agent from a file " +
				"(never an environment variable). The agent re-reads it before every connect: to rotate " +
				"it, update this Secret."},
			obj: credentials(meta(CredentialsSecret, true), o.Token, o.ServerURL),
		},
		document{
			comment: []string{"One replica: the agent holds no leader lease, so two would open two tunnels " +
				"(harmless but useless). maxUnavailable 0 keeps the old tunnel until the new pod is ready, " +
				"and /readyz is ready only while a tunnel is open."},
			obj: clusterAgent(o, meta(ClusterAgentName, true)),
		},
	)

	if o.NodeAgent {
		docs = append(docs, document{
			comment: []string{"The node agents' identity, separate from the cluster agent's: they run on " +
				"every node, so it holds no rights at all. A node agent carries bytes to the apiserver " +
				"endpoint the cluster agent reported, TLS end to end, with a credential it never sees."},
			obj: serviceAccount(meta(NodeAgentServiceAccount, true)),
		})
		docs = append(docs,
			document{
				comment: []string{"The node registration token: it opens node tunnels only, so a node " +
					"cannot pose as the cluster agent with it."},
				obj: credentials(meta(NodeCredentialsSecret, true), o.NodeToken, o.ServerURL),
			},
			document{
				comment: []string{"A node agent on every node, the fallback tunnel when the cluster agent is down."},
				obj:     nodeAgent(o, meta(NodeAgentName, true)),
			},
		)
	}

	if o.AuthEndpoint != nil {
		docs = append(docs, document{
			comment: []string{"kube-api-auth's identity (authorized cluster endpoint)."},
			obj:     serviceAccount(meta(ACEServiceAccount, true)),
		})
		docs = append(docs, roleDocs(meta(ACERole, true), ACEServiceAccount,
			"kube-api-auth's rights in "+downstream.Namespace+".", aceRules())...)
		docs = append(docs, document{
			comment: []string{fmt.Sprintf("kube-api-auth on every control-plane node, on the host network "+
				"and listening on 127.0.0.1:%d only: the apiserver on the same host calls it as its "+
				"authentication webhook, and nothing else can reach it.", o.acePort())},
			obj: authEndpoint(o, meta(ACEName, true)),
		})
	}
	return docs
}

func serviceAccount(m metav1.ObjectMeta) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: m,
	}
}

func saSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: downstream.Namespace}
}

// roleDocs returns a Role with its rules' reasons and its RoleBinding to sa.
func roleDocs(m metav1.ObjectMeta, sa, what string, rules []rule) []document {
	return []document{
		{
			comment: append([]string{what}, ruleComments(rules)...),
			obj: &rbacv1.Role{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
				ObjectMeta: m,
				Rules:      policyRules(rules),
			},
		},
		{
			obj: &rbacv1.RoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: *m.DeepCopy(),
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: m.Name},
				Subjects:   []rbacv1.Subject{saSubject(sa)},
			},
		},
	}
}

func credentials(m metav1.ObjectMeta, tok, serverURL string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: m,
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"token": []byte(tok), "url": []byte(serverURL)},
	}
}

func clusterAgent(o Options, m metav1.ObjectMeta) *appsv1.Deployment {
	one := intstr.FromInt32(1)
	zero := intstr.FromInt32(0)
	pod := agentPod(o, m.Name, agentapi.KindCluster, ClusterAgentServiceAccount, CredentialsSecret)
	// It may have to run on a control-plane-only cluster.
	pod.Spec.Tolerations = []corev1.Toleration{
		{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: m,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: selector(m.Name)},
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &one},
			},
			Template: pod,
		},
	}
}

func nodeAgent(o Options, m metav1.ObjectMeta) *appsv1.DaemonSet {
	pod := agentPod(o, m.Name, agentapi.KindNode, NodeAgentServiceAccount, NodeCredentialsSecret)
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{
		Name:      "CATTLE_NODE_NAME",
		ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}},
	})
	pod.Spec.Tolerations = tolerateAll()
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: m,
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector(m.Name)},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type: appsv1.RollingUpdateDaemonSetStrategyType,
			},
			Template: pod,
		},
	}
}

// agentPod is the pod of a cluster or node agent.
func agentPod(o Options, name, kind, sa, secret string) corev1.PodTemplateSpec {
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromString("health"), Scheme: corev1.URISchemeHTTP,
			}},
			PeriodSeconds: period, TimeoutSeconds: 3, FailureThreshold: 3,
		}
	}
	c := corev1.Container{
		Name:            downstream.AgentContainer,
		Image:           o.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            []string{"--health-listen", fmt.Sprintf(":%d", HealthPort)},
		Env: []corev1.EnvVar{
			{Name: "CATTLE_SERVER", Value: o.ServerURL},
			{Name: "CATTLE_CA_CHECKSUM", Value: o.caChecksum()},
			{Name: "CATTLE_TOKEN_FILE", Value: TokenFile},
			{Name: "CATTLE_AGENT_KIND", Value: kind},
		},
		Ports: []corev1.ContainerPort{{Name: "health", ContainerPort: HealthPort, Protocol: corev1.ProtocolTCP}},
		// Liveness only checks the process; readiness is the tunnel, so a
		// server outage makes the pod unready but never restarts it.
		LivenessProbe:  probe("/healthz", 20),
		ReadinessProbe: probe("/readyz", 10),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
			},
			Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi"),
			},
		},
		VolumeMounts:             []corev1.VolumeMount{{Name: "credentials", MountPath: CredentialsDir, ReadOnly: true}},
		SecurityContext:          containerSecurity(),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: podLabels(name)},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			// The agent uses the in-cluster config: its token is its
			// credential downstream.
			AutomountServiceAccountToken: ptr(true),
			NodeSelector:                 map[string]string{"kubernetes.io/os": "linux"},
			SecurityContext:              podSecurity(),
			Containers:                   []corev1.Container{c},
			Volumes: []corev1.Volume{{
				Name: "credentials",
				VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: secret,
					// The kubelet adds group read for fsGroup, so the file
					// ends up 0440 root:65532: readable by the agent only.
					DefaultMode: ptr(int32(0o400)),
				}},
			}},
		},
	}
}

func authEndpoint(o Options, m metav1.ObjectMeta) *appsv1.DaemonSet {
	port := o.acePort()
	c := corev1.Container{
		Name:            "kube-api-auth",
		Image:           o.aceImage(),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args: []string{"auth-endpoint", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--tls-cert-file", aceTLSDir + "/tls.crt", "--tls-key-file", aceTLSDir + "/tls.key"},
		// TLS only: the serving certificate is the Secret the Drover
		// controller creates once; the apiserver's webhook config trusts
		// its ca.crt.
		VolumeMounts: []corev1.VolumeMount{{Name: "tls", MountPath: aceTLSDir, ReadOnly: true}},
		// With hostNetwork the port is the host's; declaring it lets the
		// scheduler see a conflict.
		Ports: []corev1.ContainerPort{{Name: "webhook", ContainerPort: port, HostPort: port, Protocol: corev1.ProtocolTCP}},
		// It listens on loopback only; the kubelet shares the host's
		// network namespace with this pod, so it probes 127.0.0.1. Ready
		// once the token Secrets are synced and it serves.
		LivenessProbe:  loopbackProbe(port, 20),
		ReadinessProbe: loopbackProbe(port, 10),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("32Mi"),
			},
			Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("128Mi"),
			},
		},
		SecurityContext:          containerSecurity(),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: m,
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: selector(m.Name)},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(m.Name)},
				Spec: corev1.PodSpec{
					ServiceAccountName:           ACEServiceAccount,
					AutomountServiceAccountToken: ptr(true),
					HostNetwork:                  true,
					NodeSelector: map[string]string{
						"kubernetes.io/os":                      "linux",
						"node-role.kubernetes.io/control-plane": "",
					},
					Tolerations:     tolerateAll(),
					SecurityContext: podSecurity(),
					Containers:      []corev1.Container{c},
					Volumes: []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
						SecretName: downstream.AuthEndpointTLSSecret, DefaultMode: ptr(int32(0o400)),
					}}}},
				},
			},
		},
	}
}

// aceTLSDir is where kube-api-auth's serving certificate is mounted.
const aceTLSDir = "/etc/kube-api-auth"

func loopbackProbe(port, period int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Host: "127.0.0.1", Path: "/healthz", Port: intstr.FromInt32(port), Scheme: corev1.URISchemeHTTPS,
		}},
		PeriodSeconds: period, TimeoutSeconds: 3, FailureThreshold: 3,
	}
}

func podSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr(true),
		RunAsUser:      ptr(NonRootUID),
		RunAsGroup:     ptr(NonRootUID),
		FSGroup:        ptr(NonRootUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func containerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr(true),
		RunAsUser:                ptr(NonRootUID),
		RunAsGroup:               ptr(NonRootUID),
		ReadOnlyRootFilesystem:   ptr(true),
		AllowPrivilegeEscalation: ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// tolerateAll tolerates every taint: a DaemonSet that must run on every
// (control-plane) node, whatever it is tainted with.
func tolerateAll() []corev1.Toleration {
	return []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
}

func selector(name string) map[string]string { return map[string]string{"app": name} }

func podLabels(name string) map[string]string {
	l := downstream.Labels()
	l["app"] = name
	return l
}

func copyLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// marshal renders obj as YAML without the fields a typed object carries but
// an author would not write: null creationTimestamps, status, an empty spec.
func marshal(obj runtime.Object) ([]byte, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %T: %w", obj, err)
	}
	dropNulls(u)
	// Status is the cluster's to write; an empty spec says nothing.
	delete(u, "status")
	if s, ok := u["spec"].(map[string]any); ok && len(s) == 0 {
		delete(u, "spec")
	}
	b, err := yaml.Marshal(u)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", obj, err)
	}
	return b, nil
}

func dropNulls(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(v)
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					dropNulls(em)
				}
			}
		}
	}
}

// writeComment writes s as "# " lines of at most about 100 columns.
func writeComment(buf *bytes.Buffer, s string) {
	const width = 98
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			buf.WriteString("# " + line + "\n")
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		buf.WriteString("# " + line + "\n")
	}
}
