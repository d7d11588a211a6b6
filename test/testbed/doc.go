// Package testbed starts real, isolated Kubernetes control planes for
// integration tests: one etcd and one kube-apiserver per Cluster, built from
// source at pinned versions by `make testbed` (see mk/testbed.mk) and run as
// child processes on 127.0.0.1; on request, whole clusters with real nodes
// in a network namespace of their own (see below).
//
// What this package owns:
//   - finding the pinned binaries (FindBinaries, $DROVER_TESTBED_DIR);
//   - one fresh working directory per Cluster holding its PKI (a CA and the
//     apiserver serving certificate, ECDSA, generated in Go), the
//     service-account signing key, the static token file with an admin token
//     in group system:masters, the etcd data directory and the process logs
//     (etcd.log, kube-apiserver.log);
//   - the lifecycle of those processes: random free loopback ports (below
//     the kernel's ephemeral range), bounded retries on port races, waiting
//     for /readyz, restarting only the apiserver on the same port, and
//     stopping everything (SIGTERM, then SIGKILL after a bound) and removing
//     the temporary directory;
//   - removing temporary directories left by test processes that were
//     killed (their child processes die with them through Pdeathsig).
//
// The versions are pinned in tools/kube/go.mod and tools/etcd/go.mod; to bump
// Kubernetes, change k8s.io/kubernetes and every staging replace there, then
// TESTBED_K8S_VERSION in mk/testbed.mk and KubernetesVersion here.
//
// What a Cluster is not, by default: there is no kube-controller-manager,
// scheduler or kubelet, so pods never run, namespaces are never finalized
// after deletion, and no "default" ServiceAccount appears by itself. Create
// what a test needs explicitly. ServiceAccount TokenRequest works (the
// apiserver signs tokens).
//
// With Options.ControllerManager (no root needed), a loopback Cluster also
// runs kube-controller-manager, as the admin user, with no secure port and
// no leader election: namespaces get their "default" ServiceAccount and
// kube-root-ca.crt and are finalized after deletion, the garbage collector
// runs, and workload controllers create pods, which stay Pending (there is
// still no scheduler or kubelet). Start returns once the "default"
// namespace's ServiceAccount exists.
//
// # Clusters with real nodes (Options.Nodes)
//
// With Nodes > 0 (root only: without it Start fails at once, never skips) a
// Cluster is a whole cluster that runs pods, laid out so that it stays on
// this machine:
//
//	root namespace (tests, drover-server)            netns drover-tb-<pid>-<seq>
//	  dtb<pid>-<seq>  100.64.x.1/30  <--- veth --->  eth0  100.64.x.2/30
//	                                                   etcd 127.0.0.1:2379
//	                                                   kube-apiserver 100.64.x.2:6443
//	                                                   controller-manager, scheduler,
//	                                                   kube-proxy (one, iptables)
//	                                                   node i: kubelet :10250+100(i-1),
//	                                                     containerd, bridge cni<i>
//	                                                     with pods in 10.244.<i>.0/24
//	                                                   svc0 (peer down): 10.96.0.0/16
//
// In detail:
//   - The /30 is picked at random in 100.64.0.0/10, clear of every address
//     and route of the root namespace; Cluster.HostIP is its root end, where
//     a test's server listens for pods. Nothing else is routed: the
//     namespace has no default route, pod traffic to the root namespace is
//     masqueraded to the namespace's address (so the root namespace needs no
//     route or rule), and a service IP kube-proxy has not translated goes to
//     svc0, whose peer is down, and is dropped there. No packet can leave
//     for another address.
//   - The apiserver binds and advertises the namespace's address (the
//     "kubernetes" Service's endpoint); its certificate carries that address
//     and the Service IP 10.96.0.1. Authorization is Node,RBAC; kubelets
//     authenticate with a token each (system:node:<name>), and accept only
//     the apiserver's client certificate from the cluster's CA.
//   - Each node has its own directory (containerd root and state, CNI
//     config, kubelet root dir, pod logs), its own containerd socket, its
//     own cgroups (drover-tb-<id>/node<i>-runtime for containerd and its
//     shims, -kubelet, and -pods as the kubelet's cgroup root) and its own
//     mount namespace, held by a sleeping process that containerd and the
//     kubelet join: every mount they make (overlay roots, secret volumes,
//     pod network namespaces) lives and dies there. That namespace also gets
//     an empty tmpfs over paths they use whatever their configuration says
//     (/run/containerd, /var/lib/cni, /var/lib/kubelet, /var/log/containers)
//     and files bind-mounted over the kernel tunables kubelet would set for
//     the whole machine (vm.overcommit_memory, kernel.panic...), holding the
//     values it wants, so it writes none.
//   - Images are never pulled: the caller passes OCI archives (package
//     images) that are imported into every node's containerd; the sandbox
//     image is one of them. cgroups are v1 here: kubelet uses the cgroupfs
//     driver with cgroup v1 allowed, and containerd never lowers
//     oom_score_adj (no CAP_SYS_RESOURCE).
//   - The first node is labelled node-role.kubernetes.io/control-plane
//     through the API once Ready; Start returns when every node is Ready and
//     kube-proxy translates the "kubernetes" Service.
//   - StopNode kills one node's kubelet, containerd, containers and shims
//     (SIGKILL to everything in its cgroups), as a power loss would; the
//     apiserver keeps listing its pods. Stop cleans up after it as usual.
//   - Stop stops the kubelets, the control plane and containerd, then kills
//     whatever is left in the cluster's cgroups (containers, shims), removes
//     the cgroups, deletes the namespace (with its iptables rules and the
//     veth pair), unmounts anything left under the directory and removes it.
//     A process killed before Stop leaves all that behind: the first Start
//     in a later process sweeps namespaces and cgroups named after a dead
//     pid, and their directories.
//
// What this package must never do:
//   - listen on, connect to or advertise any address other than 127.0.0.1,
//     except inside the network namespaces it creates and on the root end
//     of their links;
//   - change the machine outside what it created (global sysctls, the root
//     namespace's routes or iptables, mounts of the root mount namespace);
//   - reuse or share state between clusters (ports, directories, keys, tokens);
//   - leave processes or temporary directories behind once Stop returns (the
//     child processes also get SIGKILL if the test process dies);
//   - build or download binaries itself: that is `make testbed`'s job, and a
//     missing binary is an error telling to run it;
//   - import anything from the product: it is test infrastructure only.
package testbed
