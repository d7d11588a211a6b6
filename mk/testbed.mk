# mk/testbed.mk: the integration test bed (real kube-apiserver and etcd, built
# from source at pinned versions). Included by the main Makefile; also works
# standalone: `make -f mk/testbed.mk testbed`.
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

.PHONY: testbed testbed-clean testbed-print-dir

testbed: $(TESTBED_DIR)/kube-apiserver $(TESTBED_DIR)/etcd ## build the pinned kube-apiserver and etcd into $(TESTBED_DIR)

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

$(TESTBED_DIR)/etcd: $(TESTBED_ETCD_STAMP)
	$(call testbed_build,$(TESTBED_ETCD_MOD),go.etcd.io/etcd/server/v3,-s -w)

# Do not steal the including Makefile's default goal.
ifeq ($(TESTBED_STANDALONE),)
.DEFAULT_GOAL := $(TESTBED_SAVED_DEFAULT_GOAL)
endif
