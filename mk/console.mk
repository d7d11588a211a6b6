# mk/console.mk: the web console (web/console: TypeScript, Preact, Vite),
# built into pkg/console/dist, which drover-server embeds (go:embed) and
# serves at /. Included by the main Makefile (make run, test and demo build
# it first); also works standalone: `make -f mk/console.mk console`.
#
# Go needs none of this: a placeholder in pkg/console/dist is committed, so
# go build, vet and test work on a fresh clone before any npm step (the
# server then serves no console).
#
# A rebuild also runs the console's unit tests (vitest, a few seconds), so
# make test runs them whenever the console changed, and always on a fresh
# machine. The build is skipped while nothing it reads changed: a content hash of
# package-lock.json, the config files and every file under src is kept
# under $(CONSOLE_STAMP_DIR), outside the repository, per checkout; mtimes
# are not used, as a fresh clone changes them all. `npm ci` runs only when
# package-lock.json changed (its own stamp lives in node_modules, so a
# removed node_modules installs again). Packages come through npm's cache
# in $(HOME)/.cache/npm, from the npm registry only when missing there.

CONSOLE_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
CONSOLE_STANDALONE := $(if $(filter 1,$(words $(MAKEFILE_LIST))),yes,)
CONSOLE_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

NPM ?= npm
CONSOLE_DIR := $(CONSOLE_REPO)/web/console
CONSOLE_DIST := $(CONSOLE_REPO)/pkg/console/dist
# What the build reads besides src/.
CONSOLE_CONFIG := package.json package-lock.json index.html tsconfig.json tsconfig.node.json vite.config.ts vitest.config.ts
# One stamp per checkout (worktrees and clones build apart).
CONSOLE_STAMP_DIR ?= $(HOME)/.cache/drover/console
CONSOLE_STAMP := $(CONSOLE_STAMP_DIR)/$(shell printf '%s' '$(CONSOLE_REPO)' | sha256sum | cut -c1-16)
CONSOLE_NPM_FLAGS := --cache $(HOME)/.cache/npm --prefer-offline --no-audit --no-fund
# Vite 8 needs Node.js ^20.19 or >= 22.12.
CONSOLE_NODE_MIN := 20.19

.PHONY: console console-test console-clean

# Checks Node.js and npm, with what to do when they are missing or old.
# Debian bookworm's own nodejs is 18, too old: newer Debian (trixie: 20.19)
# or NodeSource's packages have what Vite needs.
define console_check_node
	command -v $(NPM) >/dev/null && command -v node >/dev/null || { \
	  echo "console: node and npm are needed (Node.js $(CONSOLE_NODE_MIN) or newer): apt-get install -y nodejs npm" >&2; \
	  echo "console: (where the archive's nodejs is older, as Debian bookworm's 18 is, install Node.js 20.19+ from NodeSource's packages instead)" >&2; \
	  exit 1; }; \
	node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || { \
	  echo "console: Node.js $$(node --version) is too old: the console's build (Vite 8) needs $(CONSOLE_NODE_MIN) or newer" >&2; exit 1; }
endef

console: ## build the web console (web/console) into pkg/console/dist for the server to embed, and run its unit tests; skipped while its sources are unchanged
	@set -e; cd $(CONSOLE_DIR); \
	sum=$$( { find src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; sha256sum $(CONSOLE_CONFIG); } | sha256sum | cut -c1-32); \
	if [ -f $(CONSOLE_DIST)/index.html ] && [ "$$(cat $(CONSOLE_STAMP) 2>/dev/null)" = "$$sum" ]; then exit 0; fi; \
	$(console_check_node); \
	start=$$(date +%s); \
	lock=$$(sha256sum package-lock.json | cut -c1-32); \
	if [ "$$(cat node_modules/.drover-lock-sum 2>/dev/null)" != "$$lock" ]; then \
	  echo "console: npm ci (web/console)"; \
	  $(NPM) ci $(CONSOLE_NPM_FLAGS) || { \
	    echo "console: npm ci failed; npm $$($(NPM) --version) with node $$(node --version) (the lockfile was made with npm 11)" >&2; exit 1; }; \
	  echo "$$lock" > node_modules/.drover-lock-sum; \
	fi; \
	echo "console: building into pkg/console/dist"; \
	$(NPM) run --silent build; \
	echo "console: unit tests (vitest)"; \
	NO_COLOR=1 $(NPM) test --silent -- --reporter=dot; \
	mkdir -p $(CONSOLE_STAMP_DIR); \
	echo "$$sum" > $(CONSOLE_STAMP); \
	echo "console: built in $$(( $$(date +%s) - start ))s"

console-test: ## the console's unit tests (vitest) and type check
	@set -e; $(console_check_node)
	cd $(CONSOLE_DIR) && { [ "$$(cat node_modules/.drover-lock-sum 2>/dev/null)" = "$$(sha256sum package-lock.json | cut -c1-32)" ] || \
	  { $(NPM) ci $(CONSOLE_NPM_FLAGS) && sha256sum package-lock.json | cut -c1-32 > node_modules/.drover-lock-sum; }; }
	cd $(CONSOLE_DIR) && $(NPM) run --silent typecheck && $(NPM) test --silent

console-clean: ## remove the console's build output (the placeholder stays), its node_modules and its stamp
	rm -rf $(CONSOLE_DIR)/node_modules $(CONSOLE_DIST)/assets $(CONSOLE_DIST)/index.html $(CONSOLE_STAMP)

# Do not steal the including Makefile's default goal.
ifeq ($(CONSOLE_STANDALONE),)
.DEFAULT_GOAL := $(CONSOLE_SAVED_DEFAULT_GOAL)
endif
