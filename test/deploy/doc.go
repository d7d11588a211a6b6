// Package deploy tests what ships outside the binaries: the container images'
// Dockerfiles (deploy/docker), the server's Helm chart (deploy/helm/drover)
// and the plain manifests generated from it (deploy/manifests), and the agent
// import manifest (package manifest) applied to a real apiserver with the
// real agent running on exactly the rights it grants.
//
// The chart tests need the pinned helm (`make helm`, found through $HELM);
// the import manifest test needs the test bed (`make testbed`) and kubectl.
// A missing tool fails the tests with what to run; it never skips them.
package deploy
