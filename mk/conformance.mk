# mk/conformance.mk: the upstream Kubernetes end-to-end test binary (e2e.test,
# the test package k8s.io/kubernetes/test/e2e compiled with `go test -c`) for
# `make conformance`, built from the pinned tools module tools/kubee2e (the
# same Kubernetes version as the test bed, TESTBED_K8S_VERSION from
# mk/testbed.mk, which must be included first, as the main Makefile does).
#
# The binary lands in $(TESTBED_DIR) beside the test bed binaries, version
# stamped the same way (kubectl-style version fields; the e2e framework prints
# them), and is rebuilt only when missing or when tools/kubee2e's go.mod or
# go.sum change in content. A cold build is long (about as long as the node
# binaries: many minutes on 2 shared cores), so it is niced.

CONFORMANCE_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
CONFORMANCE_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

CONFORMANCE_MOD := $(CONFORMANCE_REPO)/tools/kubee2e
E2E_TEST := $(TESTBED_DIR)/e2e.test
CONFORMANCE_E2E_STAMP := $(TESTBED_DIR)/.stamp-e2e-test-$(call testbed_sum,$(CONFORMANCE_MOD))-$(TESTBED_K8S_VERSION)

.PHONY: e2e-test

e2e-test: $(E2E_TEST) ## build the pinned upstream e2e test binary (e2e.test) into $(TESTBED_DIR)

$(CONFORMANCE_E2E_STAMP):
	@mkdir -p $(TESTBED_DIR)
	@rm -f $(TESTBED_DIR)/.stamp-e2e-test-*
	@touch $@

# Through a temporary name, so an interrupted or failed build leaves no binary.
$(E2E_TEST): $(CONFORMANCE_E2E_STAMP)
	@v=$$(cd $(CONFORMANCE_MOD) && GOWORK=off $(TESTBED_GO) list -m -f '{{.Version}}' k8s.io/kubernetes) || exit 1; \
	if [ "$$v" != "$(TESTBED_K8S_VERSION)" ]; then \
	  echo "conformance: tools/kubee2e/go.mod pins k8s.io/kubernetes $$v but TESTBED_K8S_VERSION is $(TESTBED_K8S_VERSION)" >&2; exit 1; \
	fi
	@mkdir -p $(TESTBED_DIR)
	@rm -f $@.tmp.*
	@echo "conformance: building e2e.test (k8s.io/kubernetes/test/e2e) into $(TESTBED_DIR) (cold: 20 minutes or more on 2 shared cores)"
	@tmp=$@.tmp.$$$$; start=$$(date +%s); \
	cd $(CONFORMANCE_MOD) && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
	  nice -n 19 $(TESTBED_GO) test -c -trimpath -ldflags '$(TESTBED_KUBE_LDFLAGS)' -o $$tmp k8s.io/kubernetes/test/e2e \
	  || { rm -f $$tmp; exit 1; }; \
	mv -f $$tmp $@; \
	echo "conformance: built $@ ($$(stat -c %s $@) bytes) in $$(( $$(date +%s) - start ))s"

# Do not steal the including Makefile's default goal.
.DEFAULT_GOAL := $(CONFORMANCE_SAVED_DEFAULT_GOAL)
