# mk/helm.mk: a pinned Helm, built from source through the Go module proxy,
# for the deploy tests (test/deploy) and for regenerating
# deploy/manifests/server.yaml. Included by the main Makefile; also works
# standalone: `make -f mk/helm.mk helm`.
#
# The binary lands in $(HELM_DIR), outside the repository, so it survives
# fresh clones. It is rebuilt only when missing or when the pinned tools module
# (tools/helm: go.mod and go.sum) changes in content; a content hash is used
# instead of mtimes because a fresh clone gives go.mod a new mtime without
# changing it.

# Where this fragment lives, so that it works whatever the current directory
# or including Makefile is. Must be computed before any other include.
HELM_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
HELM_STANDALONE := $(if $(filter 1,$(words $(MAKEFILE_LIST))),yes,)
HELM_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

# Must match helm.sh/helm/v3 in tools/helm/go.mod (the build checks it).
# v3.19.x is the newest line whose go.mod needs no newer Go than ours and
# whose k8s.io libraries (v0.34) match the main module's.
HELM_VERSION := v3.19.5
# The Kubernetes version `helm template` and `helm lint` assume
# (.Capabilities.KubeVersion, deprecation checks); Helm's own Makefile
# derives it from its k8s.io/client-go (v0.34.x → 1.34).
HELM_K8S_MAJOR := 1
HELM_K8S_MINOR := 34
HELM_DIR ?= $(HOME)/.cache/drover/tools/helm-$(HELM_VERSION)
HELM := $(HELM_DIR)/helm
export HELM

HELM_GO ?= go
HELM_MOD := $(HELM_REPO)/tools/helm
helm_sum = $(shell cat $(1)/go.mod $(1)/go.sum 2>/dev/null | sha256sum | cut -c1-16)
HELM_STAMP := $(HELM_DIR)/.stamp-$(call helm_sum,$(HELM_MOD))
# As in Helm's own Makefile. The module proxy carries no VCS origin, so the
# commit is unknown and left empty.
HELM_LDFLAGS := -s -w \
	-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/internal/version.gitTreeState=clean \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$(HELM_K8S_MAJOR) \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$(HELM_K8S_MAJOR) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR)

.PHONY: helm helm-clean helm-print deploy-manifests

helm: $(HELM) ## build the pinned helm into $(HELM_DIR)

deploy-manifests: $(HELM) ## regenerate deploy/manifests/server.yaml and server-replicas.yaml from the Helm chart
	cd $(HELM_REPO) && HELM=$(HELM) GOTOOLCHAIN=local $(HELM_GO) test ./test/deploy -run '^TestServerManifest$$' -count=1 -update

helm-clean: ## remove the pinned helm in $(HELM_DIR)
	rm -rf $(HELM_DIR)

helm-print:
	@echo $(HELM)

# A stamp named after the content hash of go.mod+go.sum: a new hash means a
# missing stamp, which is created now and so is newer than the old binary.
$(HELM_STAMP):
	@mkdir -p $(HELM_DIR)
	@rm -f $(HELM_DIR)/.stamp-*
	@touch $@

# Built through a temporary name so an interrupted or failed build never
# leaves a broken binary.
$(HELM): $(HELM_STAMP)
	@v=$$(cd $(HELM_MOD) && GOWORK=off $(HELM_GO) list -m -f '{{.Version}}' helm.sh/helm/v3) || exit 1; \
	if [ "$$v" != "$(HELM_VERSION)" ]; then \
	  echo "helm: tools/helm/go.mod pins helm.sh/helm/v3 $$v but HELM_VERSION is $(HELM_VERSION)" >&2; exit 1; \
	fi
	@mkdir -p $(HELM_DIR)
	@rm -f $@.tmp.*
	@echo "helm: building helm $(HELM_VERSION) into $(HELM_DIR)"
	@tmp=$@.tmp.$$$$; start=$$(date +%s); \
	cd $(HELM_MOD) && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
	  $(HELM_GO) build -trimpath -ldflags '$(HELM_LDFLAGS)' -o $$tmp helm.sh/helm/v3/cmd/helm \
	  || { rm -f $$tmp; exit 1; }; \
	mv -f $$tmp $@; \
	echo "helm: built $@ in $$(( $$(date +%s) - start ))s"

# Do not steal the including Makefile's default goal.
ifeq ($(HELM_STANDALONE),)
.DEFAULT_GOAL := $(HELM_SAVED_DEFAULT_GOAL)
endif
