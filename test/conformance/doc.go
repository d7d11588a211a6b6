// Command conformance runs a subset of the upstream Kubernetes conformance
// tests twice against one test-bed cluster — straight to the apiserver with
// the cluster's admin kubeconfig, then through Drover with the admin's
// Drover kubeconfig — and prints the totals of each path and every test
// whose outcome differs, with the first line of its failure. It is how we
// check that Drover answers like the apiserver (issue 13).
//
// What it owns:
//   - the subset (tests.txt: one full spec text per line, and how it was
//     chosen) and the ginkgo focus expression made from it;
//   - starting, for one run, a loopback test-bed cluster with
//     kube-controller-manager and no nodes (package testbed; no root
//     needed), drover-server and one cluster agent (package harness, as
//     `make demo` does), and stopping them all again;
//   - running the upstream e2e.test binary and the pinned kubectl (`make
//     conformance-bins`, mk/conformance.mk) with a Ginkgo JSON report per
//     path, and reading those reports (report.go) and comparing them
//     (compare.go).
//
// With -nodes (the second part, `make conformance-nodes`, root only) it runs
// the tests that need pods (tests-nodes.txt) on a cluster with two real
// nodes instead (package realcluster, as the real-node tests and `make demo`
// do: drover-server in the root namespace, the agents as pods from the
// import manifest). It owns the upstream e2e images' names there: it asks
// e2e.test for them (`--list-images`, images.go) and imports, under those
// exact names, the images package images builds (agnhost from source,
// busybox, busybox's httpd for httpd, pause); nothing is pulled.
//
// It fails closed: a listed test that did not run on a path, a suite-level
// failure (BeforeSuite) or an unreadable report is an error, never a pass.
//
// What it must never do: reach a non-loopback address (with -nodes: other
// than the test bed's network namespace and its link), touch the user's
// kubeconfig or ~/.kube (each path gets a HOME and kubectl cache of its own
// under -dir), leave a process behind, or run as part of `make test` (it is
// `make conformance`: tens of minutes on the shared 2-core machine). Its
// unit tests (parser, subset, comparison, options) do run in `make test`.
package main
