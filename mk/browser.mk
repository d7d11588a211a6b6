# mk/browser.mk: the browser the console's end-to-end tests drive
# (test/browser, test/console): Debian's headless Chromium, and certutil
# (libnss3-tools) to make the throwaway NSS database that makes Chromium
# trust exactly the test's CA. Included by the main Makefile; also works
# standalone: `make -f mk/browser.mk browser-tools`.
#
# Installed with apt only when missing, non-interactively and without the
# recommended extras (no fonts beyond the dependencies, no desktop glue).
# The tests never download a browser of their own.

CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
CERTUTIL ?= /usr/bin/certutil
export CERTUTIL

.PHONY: browser-tools browser-print

browser-tools: ## apt-install Debian's chromium and libnss3-tools (certutil) when missing, for the console's browser tests
	@if [ -x "$(CHROMIUM)" ] && [ -x "$(CERTUTIL)" ]; then exit 0; fi; \
	set -e; \
	sudo=; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
	echo "browser: installing chromium and libnss3-tools with apt"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium libnss3-tools; \
	[ -x "$(CHROMIUM)" ] || { echo "browser: $(CHROMIUM) missing after install" >&2; exit 1; }; \
	[ -x "$(CERTUTIL)" ] || { echo "browser: $(CERTUTIL) missing after install" >&2; exit 1; }; \
	echo "browser: installed $$($(CHROMIUM) --version 2>/dev/null | head -1)"

browser-print:
	@echo CHROMIUM=$(CHROMIUM)
	@echo CERTUTIL=$(CERTUTIL)

# The console's pages as PNGs for docs/ (the README shows them): the whole
# console test package runs, so the pages show a console in use. make test
# writes its screenshots to a temporary directory and leaves the tree clean.
screenshots: console browser-tools testbed idp ## the console's main pages as PNGs in docs/screenshots (the console tests in a real Chromium)
	DROVER_SCREENSHOTS_DIR=docs/screenshots DROVER_REQUIRE_BROWSER=1 $(GO) test -count=1 -timeout 15m ./test/console/
