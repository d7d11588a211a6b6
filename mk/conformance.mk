# mk/conformance.mk: the upstream Kubernetes end-to-end test binary (e2e.test,
# the test package k8s.io/kubernetes/test/e2e compiled with `go test -c`) and
# the kubectl its kubectl tests run, for `make conformance`. Both are built
# from the pinned tools module tools/kubee2e: the same Kubernetes version as
# the test bed (TESTBED_K8S_VERSION from mk/testbed.mk, which must be
# included first, as the main Makefile does).
#
# The binaries land in $(TESTBED_DIR) beside the test bed binaries, version
# stamped the same way (kubectl prints the fields; the e2e framework logs
# them), and are rebuilt only when missing or when tools/kubee2e's go.mod or
# go.sum change in content. A cold build of e2e.test is long (longer than the
# node binaries: many minutes on 2 shared cores), so both are niced; kubectl
# then reuses most of its compiled packages. kubectl is built rather than
# taken from the machine so that client and server are the same release.

CONFORMANCE_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
CONFORMANCE_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

CONFORMANCE_MOD := $(CONFORMANCE_REPO)/tools/kubee2e
E2E_TEST := $(TESTBED_DIR)/e2e.test
E2E_KUBECTL := $(TESTBED_DIR)/kubectl
CONFORMANCE_E2E_STAMP := $(TESTBED_DIR)/.stamp-e2e-test-$(call testbed_sum,$(CONFORMANCE_MOD))-$(TESTBED_K8S_VERSION)

# agnhost, the upstream e2e test utility the tests with pods run, built from
# the same Kubernetes source by its own module tools/e2eimages (static, for
# an image with nothing else in it; see docs/conformance.md). A module of its
# own so that its dependencies never change tools/kubee2e's go.sum, which
# would rebuild e2e.test.
CONFORMANCE_IMAGES_MOD := $(CONFORMANCE_REPO)/tools/e2eimages
E2E_AGNHOST := $(TESTBED_DIR)/agnhost
CONFORMANCE_AGNHOST_STAMP := $(TESTBED_DIR)/.stamp-agnhost-$(call testbed_sum,$(CONFORMANCE_IMAGES_MOD))-$(TESTBED_K8S_VERSION)

.PHONY: conformance-bins conformance-agnhost

conformance-bins: $(E2E_TEST) $(E2E_KUBECTL) ## build the pinned upstream e2e test binary (e2e.test) and kubectl into $(TESTBED_DIR)

conformance-agnhost: $(E2E_AGNHOST) ## build the pinned upstream agnhost (e2e test images) into $(TESTBED_DIR)

$(CONFORMANCE_AGNHOST_STAMP):
	@mkdir -p $(TESTBED_DIR)
	@rm -f $(TESTBED_DIR)/.stamp-agnhost-*
	@touch $@

$(E2E_AGNHOST): $(CONFORMANCE_AGNHOST_STAMP)
	@v=$$(cd $(CONFORMANCE_IMAGES_MOD) && GOWORK=off $(TESTBED_GO) list -m -f '{{.Version}}' k8s.io/kubernetes) || exit 1; \
	if [ "$$v" != "$(TESTBED_K8S_VERSION)" ]; then \
	  echo "conformance: tools/e2eimages/go.mod pins k8s.io/kubernetes $$v but TESTBED_K8S_VERSION is $(TESTBED_K8S_VERSION)" >&2; exit 1; \
	fi
	$(call conformance_build,build,k8s.io/kubernetes/test/images/agnhost,,$(CONFORMANCE_IMAGES_MOD))

$(CONFORMANCE_E2E_STAMP):
	@mkdir -p $(TESTBED_DIR)
	@rm -f $(TESTBED_DIR)/.stamp-e2e-test-*
	@touch $@

# Checks that tools/kubee2e pins the test bed's Kubernetes version.
define conformance_check_version
	@v=$$(cd $(CONFORMANCE_MOD) && GOWORK=off $(TESTBED_GO) list -m -f '{{.Version}}' k8s.io/kubernetes) || exit 1; \
	if [ "$$v" != "$(TESTBED_K8S_VERSION)" ]; then \
	  echo "conformance: tools/kubee2e/go.mod pins k8s.io/kubernetes $$v but TESTBED_K8S_VERSION is $(TESTBED_K8S_VERSION)" >&2; exit 1; \
	fi
endef

# Runs `go $(1)` (build or test -c) of package $(2) from tools/kubee2e (or
# the module $(4)) into $@, niced, through a temporary name, so an
# interrupted or failed build leaves no binary.
define conformance_build
	@mkdir -p $(TESTBED_DIR)
	@rm -f $@.tmp.*
	@echo "conformance: building $(notdir $@) ($(2)) into $(TESTBED_DIR)$(3)"
	@tmp=$@.tmp.$$$$; start=$$(date +%s); \
	cd $(or $(4),$(CONFORMANCE_MOD)) && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
	  nice -n 19 $(TESTBED_GO) $(1) -trimpath -ldflags '$(TESTBED_KUBE_LDFLAGS)' -o $$tmp $(2) \
	  || { rm -f $$tmp; exit 1; }; \
	mv -f $$tmp $@; \
	echo "conformance: built $@ ($$(stat -c %s $@) bytes) in $$(( $$(date +%s) - start ))s"
endef

$(E2E_TEST): $(CONFORMANCE_E2E_STAMP)
	$(conformance_check_version)
	$(call conformance_build,test -c,k8s.io/kubernetes/test/e2e, (cold: about 20 minutes on 2 shared cores after make testbed))

$(E2E_KUBECTL): $(CONFORMANCE_E2E_STAMP) | $(E2E_TEST)
	$(conformance_check_version)
	$(call conformance_build,build,k8s.io/kubernetes/cmd/kubectl,)

# Do not steal the including Makefile's default goal.
.DEFAULT_GOAL := $(CONFORMANCE_SAVED_DEFAULT_GOAL)
