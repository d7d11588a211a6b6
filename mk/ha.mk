# mk/ha.mk: what the PostgreSQL store and server replica tests run against
# (test/postgres): PostgreSQL 15 and HAProxy from Debian. Included by the
# main Makefile; also works standalone: `make -f mk/ha.mk ha-tools`.
#
# Installed with apt only when missing, non-interactively, without creating
# a cluster (postgresql-common's create_main_cluster is turned off) and
# without leaving a service running: the tests start their own throwaway
# postgres (as nobody when root) and haproxy on loopback.

PG_BIN ?= /usr/lib/postgresql/15/bin
export PG_BIN
HAPROXY ?= /usr/sbin/haproxy
export HAPROXY

.PHONY: ha-tools ha-print

ha-tools: ## apt-install PostgreSQL 15 and HAProxy when missing (no cluster created, no service left running)
	@if [ -x "$(PG_BIN)/initdb" ] && [ -x "$(PG_BIN)/postgres" ] && [ -x "$(HAPROXY)" ]; then exit 0; fi; \
	set -e; \
	sudo=; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
	echo "ha: installing postgresql-15 and haproxy with apt"; \
	$$sudo mkdir -p /etc/postgresql-common/createcluster.d; \
	echo 'create_main_cluster = false' | $$sudo tee /etc/postgresql-common/createcluster.d/drover-no-main.conf >/dev/null; \
	policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  printf '#!/bin/sh\nexit 101\n' | $$sudo tee /usr/sbin/policy-rc.d >/dev/null; \
	  $$sudo chmod 755 /usr/sbin/policy-rc.d; policy=yes; \
	fi; \
	status=0; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 haproxy \
	  || status=$$?; \
	if [ -n "$$policy" ]; then $$sudo rm -f /usr/sbin/policy-rc.d; fi; \
	[ $$status = 0 ] || exit $$status; \
	for svc in postgresql haproxy; do \
	  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then \
	    $$sudo systemctl disable --now $$svc >/dev/null 2>&1 || true; \
	  elif command -v update-rc.d >/dev/null; then \
	    $$sudo update-rc.d $$svc disable >/dev/null 2>&1 || true; \
	  fi; \
	done; \
	[ -x "$(PG_BIN)/postgres" ] || { echo "ha: $(PG_BIN)/postgres missing after install" >&2; exit 1; }; \
	echo "ha: installed $$($(PG_BIN)/postgres --version) and $$($(HAPROXY) -v | head -1)"

ha-print:
	@echo PG_BIN=$(PG_BIN)
	@echo HAPROXY=$(HAPROXY)
