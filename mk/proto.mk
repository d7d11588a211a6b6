# mk/proto.mk: regenerates the cluster driver protocol's Go code
# (pkg/driver/driverpb) from its .proto. The generated code is committed, so
# building and testing need none of this; run `make proto` (or
# `make -f mk/proto.mk proto`) after changing a .proto file.
#
# protoc comes from Debian's protobuf-compiler (installed with apt-get when
# missing and we are root); the two plugins are pinned in tools/proto/go.mod
# and built from source into $(PROTO_DIR), outside the repository. Their
# versions are part of the generated files' headers, so regenerating with the
# same pins gives the same files.

PROTO_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
PROTO_STANDALONE := $(if $(filter 1,$(words $(MAKEFILE_LIST))),yes,)
PROTO_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

PROTO_GO ?= go
PROTO_MOD := $(PROTO_REPO)/tools/proto
proto_sum = $(shell cat $(1)/go.mod $(1)/go.sum 2>/dev/null | sha256sum | cut -c1-16)
PROTO_DIR ?= $(HOME)/.cache/drover/tools/proto-$(call proto_sum,$(PROTO_MOD))
PROTOC ?= protoc
PROTO_FILES := pkg/driver/driverpb/driver.proto

.PHONY: proto proto-tools proto-check

proto: proto-tools ## regenerate pkg/driver/driverpb from its .proto
	cd $(PROTO_REPO) && PATH=$(PROTO_DIR):$$PATH $(PROTOC) -I . \
	  --go_out=. --go_opt=paths=source_relative \
	  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
	  $(PROTO_FILES)

proto-check: proto ## regenerate and fail if the committed code differs
	cd $(PROTO_REPO) && git diff --exit-code -- pkg/driver/driverpb

proto-tools: $(PROTO_DIR)/protoc-gen-go $(PROTO_DIR)/protoc-gen-go-grpc
	@command -v $(PROTOC) >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq protobuf-compiler || \
	    { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }; \
	  else echo "proto: protoc not found; install Debian's protobuf-compiler" >&2; exit 1; fi; }

# Built through a temporary name so an interrupted build leaves no broken binary.
$(PROTO_DIR)/protoc-gen-go $(PROTO_DIR)/protoc-gen-go-grpc:
	@mkdir -p $(PROTO_DIR)
	@tmp=$@.tmp.$$$$; \
	pkg=$$(case $(notdir $@) in protoc-gen-go) echo google.golang.org/protobuf/cmd/protoc-gen-go;; \
	  *) echo google.golang.org/grpc/cmd/protoc-gen-go-grpc;; esac); \
	cd $(PROTO_MOD) && GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
	  $(PROTO_GO) build -trimpath -o $$tmp $$pkg || { rm -f $$tmp; exit 1; }; \
	mv -f $$tmp $@; echo "proto: built $@"

# Do not steal the including Makefile's default goal.
ifeq ($(PROTO_STANDALONE),)
.DEFAULT_GOAL := $(PROTO_SAVED_DEFAULT_GOAL)
endif
