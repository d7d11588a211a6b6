# Drover. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
export GOTOOLCHAIN := local
# Everything we build is cached under $HOME/.cache (Go's build cache lives
# there by default; the test bed binaries too, see mk/testbed.mk).
export GOCACHE ?= $(HOME)/.cache/go-build

.DEFAULT_GOAL := help
include mk/testbed.mk
include mk/conformance.mk
include mk/helm.mk
include mk/idp.mk
include mk/ha.mk
include mk/proto.mk
include mk/lint.mk
include mk/console.mk
include mk/browser.mk

BIN := bin
DATA_DIR ?= data
# What --version says (package pkg/version): `make build VERSION=v1.2.3`
# overrides; the environment does not (a stray VERSION variable must not
# stamp a release).
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
VERSION_PKG := github.com/drover-dev/drover/pkg/version
LDFLAGS := -X $(VERSION_PKG).version=$(VERSION) -X $(VERSION_PKG).commit=$(COMMIT)
LISTEN ?= 127.0.0.1:8443
# An iteration count, not a duration: a duration ends the run on a deadline,
# which Go's fuzzer sometimes reports as a failure ("context deadline exceeded").
# 15000 keeps the 34 targets near 3 minutes of make test (25000 took about
# 4; with the console's browser tests the whole suite took 27m17s at 25000,
# over its 25-minute budget); `make fuzz FUZZTIME=1000000x` digs deeper.
FUZZTIME ?= 15000x
TEST_TIMEOUT ?= 20m
# The race detector instruments everything but gorilla/websocket and
# remotedialer, for two races inside remotedialer v0.6.1 (the newest that
# builds on Go 1.26): it sets a write deadline from its ping handler without
# its write lock (a race in the websocket's own fields; v0.6.2 fixes it but
# needs Go 1.27), and a client session's Close reads the ping canceller its
# Serve goroutine writes, unsynchronised, whenever the agent ends a session
# by its context (token renewal or rotation; still so upstream). Our code
# that uses both is still instrumented; drop this when remotedialer moves.
RACE := -race -gcflags='github.com/gorilla/websocket=-race=false' -gcflags='github.com/rancher/remotedialer=-race=false'

.PHONY: help build images run test unit fuzz lint bench bench-scale demo conformance conformance-nodes clean tools

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: console ## build bin/drover-server, bin/drover-agent, bin/drover (the command-line client) and bin/driver-local, stamped with VERSION and COMMIT (--version)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/drover-server ./cmd/server
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/drover ./cmd/drover
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/drover-agent ./cmd/agent
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/driver-local ./cmd/driver-local

# The images take the same stamps as build arguments (their build context
# has no .git). Needs docker or podman (DOCKER=podman); no test runs it.
DOCKER ?= docker
IMAGE_PREFIX ?= drover
images: ## build the server and agent images with BuildKit, stamped like `make build`
	$(DOCKER) build -f deploy/docker/Dockerfile.server --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE_PREFIX)-server:$(VERSION) .
	$(DOCKER) build -f deploy/docker/Dockerfile.agent --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE_PREFIX)-agent:$(VERSION) .

run: console ## run the server on an embedded SQLite store in $(DATA_DIR); prints the admin login on first start
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/drover-server ./cmd/server
	./$(BIN)/drover-server --data-dir $(DATA_DIR) --listen $(LISTEN)

tools: ## install what the tests need from Debian (kubectl is on the machine already)
	@command -v kubectl >/dev/null || { echo "kubectl is required on PATH" >&2; exit 1; }

lint: $(STATICCHECK) ## gofmt, import groups, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) test -count=1 -run 'TestImportGroups' ./test/lint >/dev/null || { $(GO) test -count=1 -run 'TestImportGroups' ./test/lint; 	  echo "imports need grouping: go run ./test/lint/fiximports"; exit 1; }
	$(GO) vet ./...
	$(STATICCHECK) ./...

unit: idp ha-tools ## fast tests that need no real cluster (the store ones on a real PostgreSQL too)
	$(GO) test $(RACE) -count=1 ./pkg/... ./cmd/...

fuzz: ## run each fuzz target for $(FUZZTIME)
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' pkg cmd | xargs -n1 dirname | sort -u); do \
	  for fn in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz ./$$dir $$fn ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$dir; \
	  done; \
	done

# DROVER_REQUIRE_BROWSER: the browser tests (test/browser, test/console)
# fail instead of skipping when Chromium or the built console is missing.
test: tools testbed helm idp ha-tools browser-tools console lint ## everything: vet, race-enabled unit and integration tests on real clusters, the console's tests in a real browser, fuzzing
	DROVER_REQUIRE_BROWSER=1 $(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(MAKE) --no-print-directory fuzz

# Flags for drover-bench, e.g. BENCH_FLAGS='-skip nodes' without root.
BENCH_FLAGS ?=

bench: testbed ## direct vs through-Drover throughput and latency on a real cluster (nodes section: root); see docs/benchmarks.md
	$(GO) build -o $(BIN)/drover-bench ./test/bench
	./$(BIN)/drover-bench $(BENCH_FLAGS)

# The fleet simulator: CLUSTERS real agents in one process against one
# drover-server (see test/fleet). The short run measures, restarts the server
# and stops; SOAK=30m keeps the fleet up that long first. The last line of
# its output is the one a script reads (fleet: clusters=...).
CLUSTERS ?= 100
SOAK ?= 0
FLEET_FLAGS ?=

bench-scale: ## a fleet of CLUSTERS simulated clusters (default 100) on one server: RSS and goroutines per tunnel, idle CPU, restart; SOAK=30m for the soak; see docs/benchmarks.md
	$(GO) build -trimpath -o $(BIN)/drover-server ./cmd/server
	$(GO) build -o $(BIN)/drover-fleet ./test/fleet/drover-fleet
	ulimit -n $$(( 8 * $(CLUSTERS) + 4096 )) 2>/dev/null || true; \
	  ./$(BIN)/drover-fleet -clusters $(CLUSTERS) -soak $(SOAK) -server-bin $(BIN)/drover-server $(FLEET_FLAGS)

demo: console testbed ha-tools ## as root: a cluster with two real nodes imported into a server (agents as pods), a hello Deployment; kubeconfigs in .demo/; Ctrl-C cleans up; REPLICAS=3: three servers on a PostgreSQL behind HAProxy (.demo/replicas lists them)
	$(GO) build -o $(BIN)/drover-demo ./test/demo
	./$(BIN)/drover-demo $(if $(REPLICAS),-replicas $(REPLICAS))

# Not part of `make test`: two runs of the upstream e2e tests take tens of
# minutes here. Needs no root (the cluster has a controller-manager, no
# nodes), so it takes the test bed's binaries but not its container runtime.
#
# The second part, the tests that need pods (exec, logs, attach,
# port-forward, proxy, webhooks...), runs on a cluster with two real nodes
# and needs root: `make conformance-nodes`, or both parts with
# `make conformance CONFORMANCE_NODES=1`.
CONFORMANCE_NODES ?=
# Extra flags for drover-conformance, e.g. CONFORMANCE_FLAGS=-straight-only.
CONFORMANCE_FLAGS ?=

conformance: $(TESTBED_DIR)/kube-apiserver $(TESTBED_DIR)/etcd testbed-nodes conformance-bins $(if $(CONFORMANCE_NODES),testbed-runtime conformance-agnhost) ## upstream conformance tests (API machinery, auth, kubectl; no pods) straight and through Drover on one cluster; prints the differences; CONFORMANCE_NODES=1 adds conformance-nodes; see docs/conformance.md
	$(GO) build -o $(BIN)/drover-conformance ./test/conformance
	./$(BIN)/drover-conformance $(CONFORMANCE_FLAGS)
	$(if $(CONFORMANCE_NODES),./$(BIN)/drover-conformance -nodes -dir $(BIN)/conformance-nodes $(CONFORMANCE_FLAGS))

conformance-nodes: testbed conformance-bins conformance-agnhost ## as root: the upstream e2e tests that need pods (exec, logs, attach, port-forward, proxy, webhooks) straight and through Drover on a cluster with two real nodes; see docs/conformance.md
	$(GO) build -o $(BIN)/drover-conformance ./test/conformance
	./$(BIN)/drover-conformance -nodes -dir $(BIN)/conformance-nodes $(CONFORMANCE_FLAGS)

clean: ## remove build output and local data
	rm -rf $(BIN) $(DATA_DIR) .demo
