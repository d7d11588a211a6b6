// Package testbed starts real, isolated Kubernetes control planes for
// integration tests: one etcd and one kube-apiserver per Cluster, built from
// source at pinned versions by `make testbed` (see mk/testbed.mk) and run as
// child processes on 127.0.0.1.
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
// What a Cluster is not: there is no kube-controller-manager, scheduler or
// kubelet, so pods never run, namespaces are never finalized after deletion,
// and no "default" ServiceAccount appears by itself. Create what a test needs
// explicitly. ServiceAccount TokenRequest works (the apiserver signs tokens).
//
// What this package must never do:
//   - listen on, connect to or advertise any address other than 127.0.0.1;
//   - reuse or share state between clusters (ports, directories, keys, tokens);
//   - leave processes or temporary directories behind once Stop returns (the
//     child processes also get SIGKILL if the test process dies);
//   - build or download binaries itself: that is `make testbed`'s job, and a
//     missing binary is an error telling to run it;
//   - import anything from the product: it is test infrastructure only.
package testbed
