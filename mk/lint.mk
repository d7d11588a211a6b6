# mk/lint.mk: staticcheck, built from source at a pinned version through the
# Go module proxy (tools/staticcheck), for `make lint`. Included by the main
# Makefile; also works standalone: `make -f mk/lint.mk staticcheck`.
#
# The binary lands in $(STATICCHECK_DIR), outside the repository, so it
# survives fresh clones. It is rebuilt only when the pinned module (go.mod
# and go.sum) changes in content. staticcheck keeps its own analysis cache
# under $HOME/.cache/staticcheck, so a warm run takes seconds.

LINT_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
LINT_STANDALONE := $(if $(filter 1,$(words $(MAKEFILE_LIST))),yes,)
LINT_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

LINT_GO ?= go
LINT_MOD := $(LINT_REPO)/tools/staticcheck
lint_sum = $(shell cat $(1)/go.mod $(1)/go.sum 2>/dev/null | sha256sum | cut -c1-16)
STATICCHECK_DIR ?= $(HOME)/.cache/drover/tools/staticcheck-$(call lint_sum,$(LINT_MOD))
STATICCHECK := $(STATICCHECK_DIR)/staticcheck

.PHONY: staticcheck

staticcheck: $(STATICCHECK) ## build the pinned staticcheck into $(STATICCHECK_DIR)

# Built through a temporary name so an interrupted build leaves no broken binary.
$(STATICCHECK):
	@mkdir -p $(STATICCHECK_DIR)
	@echo "lint: building staticcheck into $(STATICCHECK_DIR) (cold: a few minutes on 2 cores)"
	@tmp=$@.tmp.$$$$; cd $(LINT_MOD) && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
	  $(LINT_GO) build -trimpath -o $$tmp honnef.co/go/tools/cmd/staticcheck || { rm -f $$tmp; exit 1; }; \
	mv -f $$tmp $@

ifeq ($(LINT_STANDALONE),)
.DEFAULT_GOAL := $(LINT_SAVED_DEFAULT_GOAL)
endif
