// Package images builds container images without a registry or a container
// engine: OCI image-layout archives, written in Go from local files, that
// `ctr images import` loads into a containerd (package testbed does that for
// each node of a cluster with real nodes).
//
// What this package owns:
//   - the archive format: oci-layout, index.json whose one manifest carries
//     the image name in the io.containerd.image.name annotation, an image
//     config and one gzip layer, all content-addressed under blobs/sha256;
//   - the three images the real-node clusters need: the sandbox ("pause")
//     image from the tiny static program in ./pause, the agent image from a
//     static drover-agent laid out as deploy/docker/Dockerfile.agent does
//     (/drover-agent, user 65532, no shell), and a workload image from
//     Debian's busybox-static (a shell, tar for `kubectl cp`, httpd, wget);
//   - the upstream e2e test images that `make conformance-nodes` imports
//     under their registry names (e2e.go): agnhost and the kitten and
//     nautilus images built on it, busybox, and a stand-in for httpd that
//     is busybox's httpd (each function says how close it is to upstream).
//
// Archives are reproducible: file times are the Unix epoch, owners are set
// explicitly, and entries are written in the order given, so the same inputs
// give the same digests.
//
// What this package must never do: fetch anything from the network, run a
// container engine, or build binaries (callers hand it built files).
package images
