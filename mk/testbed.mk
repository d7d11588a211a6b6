# mk/testbed.mk: the integration test bed (real kube-apiserver and etcd, built
# from source at pinned versions; for clusters with real nodes also
# kube-controller-manager, kube-scheduler, kubelet and kube-proxy from the same
# pinned module, and the container runtime from Debian). Included by the main
# Makefile; also works standalone: `make -f mk/testbed.mk testbed`.
#
# The binaries land in $(TESTBED_DIR), outside the repository, so they survive
# fresh clones. They are rebuilt only when missing or when the pinned tools
# modules (tools/kube, tools/etcd: go.mod and go.sum) change in content; a
# content hash is used instead of mtimes because a fresh clone gives go.mod a
# new mtime without changing it.

# Where this fragment lives, so that it works whatever the current directory
# or including Makefile is. Must be computed before any other include.
TESTBED_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
TESTBED_STANDALONE := $(if $(filter 1,$(words $(MAKEFILE_LIST))),yes,)
TESTBED_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

# Must match the k8s.io/kubernetes version in tools/kube/go.mod (the build
# checks it). v1.33.x is inside the skew of the machine's kubectl 1.32.
TESTBED_K8S_VERSION := v1.33.13
TESTBED_DIR ?= $(HOME)/.cache/drover/testbed/$(TESTBED_K8S_VERSION)
export DROVER_TESTBED_DIR := $(TESTBED_DIR)

TESTBED_GO ?= go
TESTBED_K8S_MAJOR := $(word 1,$(subst ., ,$(patsubst v%,%,$(TESTBED_K8S_VERSION))))
TESTBED_K8S_MINOR := $(word 2,$(subst ., ,$(patsubst v%,%,$(TESTBED_K8S_VERSION))))
# The module proxy carries no VCS origin for k8s.io/kubernetes, so the commit
# is unknown; kubectl only needs gitVersion/gitMajor/gitMinor to parse.
TESTBED_K8S_GIT_COMMIT ?= 0000000000000000000000000000000000000000
TESTBED_VERSION_PKG := k8s.io/component-base/version
TESTBED_KUBE_LDFLAGS = -s -w \
	-X $(TESTBED_VERSION_PKG).gitVersion=$(TESTBED_K8S_VERSION) \
	-X $(TESTBED_VERSION_PKG).gitMajor=$(TESTBED_K8S_MAJOR) \
	-X $(TESTBED_VERSION_PKG).gitMinor=$(TESTBED_K8S_MINOR) \
	-X $(TESTBED_VERSION_PKG).gitTreeState=clean \
	-X $(TESTBED_VERSION_PKG).gitCommit=$(TESTBED_K8S_GIT_COMMIT) \
	-X $(TESTBED_VERSION_PKG).buildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

TESTBED_KUBE_MOD := $(TESTBED_REPO)/tools/kube
TESTBED_ETCD_MOD := $(TESTBED_REPO)/tools/etcd
testbed_sum = $(shell cat $(1)/go.mod $(1)/go.sum 2>/dev/null | sha256sum | cut -c1-16)
TESTBED_KUBE_STAMP := $(TESTBED_DIR)/.stamp-kube-apiserver-$(call testbed_sum,$(TESTBED_KUBE_MOD))-$(TESTBED_K8S_VERSION)
TESTBED_NODES_STAMP := $(TESTBED_DIR)/.stamp-kube-nodes-$(call testbed_sum,$(TESTBED_KUBE_MOD))-$(TESTBED_K8S_VERSION)
# The control plane and node binaries a cluster with real nodes needs besides
# kube-apiserver. Built in one `go build` so the packages they share are
# compiled once (cold: the longest build here on 2 cores).
TESTBED_NODE_CMDS := kube-controller-manager kube-scheduler kubelet kube-proxy
TESTBED_NODE_BINS := $(addprefix $(TESTBED_DIR)/,$(TESTBED_NODE_CMDS))
# Debian packages of the container runtime and what the nodes run with it,
# checked by the files they install.
TESTBED_RUNTIME_PKGS := containerd runc containernetworking-plugins iptables conntrack busybox-static
TESTBED_RUNTIME_FILES := /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/bin/ctr /usr/sbin/runc \
	/usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback /usr/lib/cni/portmap \
	/usr/sbin/iptables /usr/sbin/conntrack /bin/busybox
TESTBED_ETCD_STAMP := $(TESTBED_DIR)/.stamp-etcd-$(call testbed_sum,$(TESTBED_ETCD_MOD))

# Builds package $(2) from module dir $(1) into $@ with ldflags $(3), through a
# temporary name so an interrupted or failed build never leaves a broken binary.
define testbed_build
	@mkdir -p $(TESTBED_DIR)
	@rm -f $@.tmp.*
	@echo "testbed: building $(notdir $@) ($(2)) into $(TESTBED_DIR)"
	@tmp=$@.tmp.$$$$; start=$$(date +%s); \
	cd $(1) && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
	  $(TESTBED_GO) build -trimpath -ldflags '$(3)' -o $$tmp $(2) \
	  || { rm -f $$tmp; exit 1; }; \
	mv -f $$tmp $@; \
	echo "testbed: built $@ in $$(( $$(date +%s) - start ))s"
endef

.PHONY: testbed testbed-nodes testbed-runtime testbed-clean testbed-print-dir

testbed: $(TESTBED_DIR)/kube-apiserver $(TESTBED_DIR)/etcd testbed-nodes testbed-runtime ## build the pinned Kubernetes and etcd into $(TESTBED_DIR); apt-install the container runtime

testbed-nodes: $(TESTBED_NODE_BINS) ## build the pinned controller-manager, scheduler, kubelet and kube-proxy into $(TESTBED_DIR)

# Installs only what is missing, with one `apt-get update`. A temporary
# policy-rc.d (exit 101: "action forbidden") keeps the package scripts from
# starting containerd as a system service: the test bed runs its own, one per
# node. Real nodes need root (namespaces, cgroups, mounts, iptables), so
# without root this fails at once rather than letting the tests skip.
testbed-runtime: ## apt-install containerd, runc, CNI plugins, iptables, conntrack and busybox-static when missing (needs root)
	@missing=; for f in $(TESTBED_RUNTIME_FILES); do [ -x $$f ] || missing="$$missing $$f"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "testbed: real nodes need root (missing:$$missing); run as root: apt-get install $(TESTBED_RUNTIME_PKGS)" >&2; exit 1; \
	fi; \
	set -e; echo "testbed: installing $(TESTBED_RUNTIME_PKGS) with apt"; \
	policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; policy=yes; \
	fi; \
	status=0; \
	env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TESTBED_RUNTIME_PKGS) \
	  || status=$$?; \
	if [ -n "$$policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
	[ $$status = 0 ] || exit $$status; \
	if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then \
	  systemctl disable --now containerd >/dev/null 2>&1 || true; \
	fi; \
	for f in $(TESTBED_RUNTIME_FILES); do [ -x $$f ] || { echo "testbed: $$f missing after install" >&2; exit 1; }; done; \
	echo "testbed: installed $$(containerd --version | cut -d' ' -f3), $$(runc --version | head -1)"

testbed-clean: ## remove the test bed binaries in $(TESTBED_DIR)
	rm -rf $(TESTBED_DIR)

testbed-print-dir:
	@echo $(TESTBED_DIR)

# A stamp named after the content hash of go.mod+go.sum: a new hash means a
# missing stamp, which is created now and so is newer than the old binary.
$(TESTBED_KUBE_STAMP):
	@mkdir -p $(TESTBED_DIR)
	@rm -f $(TESTBED_DIR)/.stamp-kube-apiserver-*
	@touch $@

$(TESTBED_ETCD_STAMP):
	@mkdir -p $(TESTBED_DIR)
	@rm -f $(TESTBED_DIR)/.stamp-etcd-*
	@touch $@

$(TESTBED_DIR)/kube-apiserver: $(TESTBED_KUBE_STAMP)
	@v=$$(cd $(TESTBED_KUBE_MOD) && GOWORK=off $(TESTBED_GO) list -m -f '{{.Version}}' k8s.io/kubernetes) || exit 1; \
	if [ "$$v" != "$(TESTBED_K8S_VERSION)" ]; then \
	  echo "testbed: tools/kube/go.mod pins k8s.io/kubernetes $$v but TESTBED_K8S_VERSION is $(TESTBED_K8S_VERSION)" >&2; exit 1; \
	fi
	$(call testbed_build,$(TESTBED_KUBE_MOD),k8s.io/kubernetes/cmd/kube-apiserver,$(TESTBED_KUBE_LDFLAGS))

$(TESTBED_NODES_STAMP):
	@mkdir -p $(TESTBED_DIR)
	@rm -f $(TESTBED_DIR)/.stamp-kube-nodes-*
	@touch $@

# All four in one `go build -o <dir>/`, niced (the machine is shared), into a
# temporary directory, then moved: an interrupted build leaves no binary.
$(TESTBED_NODE_BINS) &: $(TESTBED_NODES_STAMP)
	@v=$$(cd $(TESTBED_KUBE_MOD) && GOWORK=off $(TESTBED_GO) list -m -f '{{.Version}}' k8s.io/kubernetes) || exit 1; \
	if [ "$$v" != "$(TESTBED_K8S_VERSION)" ]; then \
	  echo "testbed: tools/kube/go.mod pins k8s.io/kubernetes $$v but TESTBED_K8S_VERSION is $(TESTBED_K8S_VERSION)" >&2; exit 1; \
	fi
	@mkdir -p $(TESTBED_DIR)
	@rm -rf $(TESTBED_DIR)/.tmp-nodes.*
	@echo "testbed: building $(TESTBED_NODE_CMDS) into $(TESTBED_DIR) (cold: 15 minutes or more on 2 shared cores)"
	@tmp=$(TESTBED_DIR)/.tmp-nodes.$$$$; mkdir -p $$tmp; start=$$(date +%s); \
	cd $(TESTBED_KUBE_MOD) && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
	  nice $(TESTBED_GO) build -trimpath -ldflags '$(TESTBED_KUBE_LDFLAGS)' -o $$tmp/ \
	  $(addprefix k8s.io/kubernetes/cmd/,$(TESTBED_NODE_CMDS)) \
	  || { rm -rf $$tmp; exit 1; }; \
	for b in $(TESTBED_NODE_CMDS); do mv -f $$tmp/$$b $(TESTBED_DIR)/$$b; done; rm -rf $$tmp; \
	echo "testbed: built $(TESTBED_NODE_CMDS) in $$(( $$(date +%s) - start ))s"

$(TESTBED_DIR)/etcd: $(TESTBED_ETCD_STAMP)
	$(call testbed_build,$(TESTBED_ETCD_MOD),go.etcd.io/etcd/server/v3,-s -w)

# Do not steal the including Makefile's default goal.
ifeq ($(TESTBED_STANDALONE),)
.DEFAULT_GOAL := $(TESTBED_SAVED_DEFAULT_GOAL)
endif
