# mk/idp.mk: the identity providers the auth provider tests run against
# (test/idp): OpenLDAP's slapd from Debian, and Dex built from source at a
# pinned version. Included by the main Makefile; also works standalone:
# `make -f mk/idp.mk idp`.
#
# slapd is installed with apt only when missing, non-interactively, with no
# database configured and without leaving it running as a system service:
# the tests start their own throwaway slapd on a random loopback port.
#
# Dex lands in $(DEX_DIR), outside the repository, so it survives fresh
# clones. It is rebuilt only when missing or when the pinned tools module
# (tools/dex: go.mod and go.sum) changes in content; a content hash is used
# instead of mtimes because a fresh clone gives go.mod a new mtime without
# changing it. Dex links SQLite through cgo, so the build needs gcc.

# Where this fragment lives, so that it works whatever the current directory
# or including Makefile is. Must be computed before any other include.
IDP_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
IDP_STANDALONE := $(if $(filter 1,$(words $(MAKEFILE_LIST))),yes,)
IDP_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

# Dex tags v2.x without a /v2 module path, so the module proxy only knows its
# commits: DEX_MODULE_VERSION is the pseudo-version of the v2.41.1 tag and
# must match github.com/dexidp/dex in tools/dex/go.mod (the build checks it).
# Newer Dex commits are not served by the module proxy reachable here.
DEX_VERSION := v2.41.1
DEX_MODULE_VERSION := v0.0.0-20240807174518-43956db7fd75
DEX_DIR ?= $(HOME)/.cache/drover/tools/dex-$(DEX_VERSION)
DEX := $(DEX_DIR)/dex
export DEX

# Debian's paths; test/idp reads SLAPD (and falls back to the same path).
SLAPD ?= /usr/sbin/slapd
export SLAPD

IDP_GO ?= go
DEX_MOD := $(IDP_REPO)/tools/dex
idp_sum = $(shell cat $(1)/go.mod $(1)/go.sum 2>/dev/null | sha256sum | cut -c1-16)
DEX_STAMP := $(DEX_DIR)/.stamp-$(call idp_sum,$(DEX_MOD))
DEX_LDFLAGS := -s -w -X main.version=$(DEX_VERSION)

.PHONY: idp idp-slapd idp-dex idp-clean idp-print

idp: idp-slapd idp-dex ## install slapd (apt) and build the pinned Dex for the auth provider tests

idp-dex: $(DEX) ## build the pinned Dex into $(DEX_DIR)

# Installs only what is missing. debconf is told not to configure a database
# (the tests bring their own), and a temporary policy-rc.d (exit 101: "action
# forbidden") keeps the package scripts from starting the system service.
idp-slapd: ## apt-install slapd and ldap-utils when missing (never left running as a service)
	@if [ -x "$(SLAPD)" ] && [ -x /usr/sbin/slapadd ] && command -v ldapsearch >/dev/null; then exit 0; fi; \
	set -e; \
	sudo=; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
	echo "idp: installing slapd and ldap-utils with apt"; \
	echo 'slapd slapd/no_configuration boolean true' | $$sudo debconf-set-selections; \
	policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  printf '#!/bin/sh\nexit 101\n' | $$sudo tee /usr/sbin/policy-rc.d >/dev/null; \
	  $$sudo chmod 755 /usr/sbin/policy-rc.d; policy=yes; \
	fi; \
	status=0; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slapd ldap-utils \
	  || status=$$?; \
	if [ -n "$$policy" ]; then $$sudo rm -f /usr/sbin/policy-rc.d; fi; \
	[ $$status = 0 ] || exit $$status; \
	if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then \
	  $$sudo systemctl disable --now slapd >/dev/null 2>&1 || true; \
	elif command -v update-rc.d >/dev/null; then \
	  $$sudo update-rc.d slapd disable >/dev/null 2>&1 || true; \
	fi; \
	[ -x "$(SLAPD)" ] || { echo "idp: $(SLAPD) missing after install" >&2; exit 1; }; \
	echo "idp: installed $$($(SLAPD) -VV 2>&1 | head -1)"

idp-clean: ## remove the pinned Dex in $(DEX_DIR) (slapd stays installed)
	rm -rf $(DEX_DIR)

idp-print:
	@echo DEX=$(DEX)
	@echo SLAPD=$(SLAPD)

# A stamp named after the content hash of go.mod+go.sum: a new hash means a
# missing stamp, which is created now and so is newer than the old binary.
$(DEX_STAMP):
	@mkdir -p $(DEX_DIR)
	@rm -f $(DEX_DIR)/.stamp-*
	@touch $@

# Built through a temporary name so an interrupted or failed build never
# leaves a broken binary.
$(DEX): $(DEX_STAMP)
	@v=$$(cd $(DEX_MOD) && GOTOOLCHAIN=local GOWORK=off $(IDP_GO) list -m -f '{{.Version}}' github.com/dexidp/dex) || exit 1; \
	if [ "$$v" != "$(DEX_MODULE_VERSION)" ]; then \
	  echo "idp: tools/dex/go.mod pins github.com/dexidp/dex $$v but DEX_MODULE_VERSION is $(DEX_MODULE_VERSION)" >&2; exit 1; \
	fi
	@command -v gcc >/dev/null || { echo "idp: Dex needs cgo (SQLite): install gcc" >&2; exit 1; }
	@mkdir -p $(DEX_DIR)
	@rm -f $@.tmp.*
	@echo "idp: building dex $(DEX_VERSION) into $(DEX_DIR) (cold: about 3 minutes on 2 cores)"
	@tmp=$@.tmp.$$$$; start=$$(date +%s); \
	cd $(DEX_MOD) && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=1 \
	  $(IDP_GO) build -trimpath -ldflags '$(DEX_LDFLAGS)' -o $$tmp github.com/dexidp/dex/cmd/dex \
	  || { rm -f $$tmp; exit 1; }; \
	mv -f $$tmp $@; \
	echo "idp: built $@ in $$(( $$(date +%s) - start ))s"

# Do not steal the including Makefile's default goal.
ifeq ($(IDP_STANDALONE),)
.DEFAULT_GOAL := $(IDP_SAVED_DEFAULT_GOAL)
endif
