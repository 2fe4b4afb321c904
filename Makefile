# Sentinel TVM: the two front-door commands are `make run` and `make test`.
#
# Tools the tests need are installed on demand into a cache outside the clone,
# keyed by version, so a fresh machine installs from scratch and later runs
# reuse what is there. Override the location with CACHE=...
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CACHE   ?= $(HOME)/.cache/sentinel-tvm
GO      ?= go
BIN     := $(CURDIR)/bin
CLI     := $(BIN)/sentinel-tvm
GOFLAGS_BUILD := -trimpath -buildvcs=false

# moto, the AWS emulator the integration tests and `make run` use, lives in a
# virtualenv keyed by its version: installed once, reused by later runs.
MOTO_VERSION := 5.2.5
MOTO_VENV    := $(CACHE)/moto-$(MOTO_VERSION)
MOTO_SERVER  := $(MOTO_VENV)/bin/moto_server

# The Lambda Runtime Interface Emulator runs the real bootstrap in tests.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE         := $(CACHE)/rie-$(RIE_VERSION)/aws-lambda-rie

export GOFLAGS := -buildvcs=false

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: build
build: $(CLI) ## build the sentinel-tvm CLI into bin/

$(CLI): go.mod go.sum $(shell find lambda -name '*.go' -not -name '*_test.go')
	$(GO) build $(GOFLAGS_BUILD) -o $@ ./lambda/cmd/sentinel-tvm

.PHONY: test
test: vet go-test policy-test ## run every test CI runs

.PHONY: vet
vet: ## go vet and gofmt check
	@out=$$(gofmt -l lambda test 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: go-test
go-test: $(MOTO_SERVER) $(RIE) ## Go unit and integration tests (fuzz seed corpora included)
	SENTINEL_TVM_MOTO_SERVER=$(MOTO_SERVER) SENTINEL_TVM_RIE=$(RIE) $(GO) test -count=1 ./...

.PHONY: moto
moto: $(MOTO_SERVER) ## install the moto AWS emulator into $(CACHE)

# --clear starts over from a venv an interrupted run left behind; a failed
# install removes moto_server so the next run tries again instead of trusting it.
$(MOTO_SERVER):
	python3 -m venv --clear $(MOTO_VENV)
	$(MOTO_VENV)/bin/pip install --quiet --disable-pip-version-check "moto[server]==$(MOTO_VERSION)" || { rm -f $@; exit 1; }
	test -x $@ && touch $@

.PHONY: policy-test
policy-test: $(CLI) ## compile the example policies and run their test cases
	$(CLI) policy fmt --check policies
	$(CLI) policy test policies

.PHONY: bench
bench: ## run the benchmarks recorded in docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem ./lambda/...

.PHONY: run
run: $(CLI) $(MOTO_SERVER) ## run the service locally on the moto AWS emulator (Ctrl-C stops it)
	CLI=$(CLI) MOTO_SERVER=$(MOTO_SERVER) scripts/run-local.sh

.PHONY: rie
rie: $(RIE) ## install the Lambda Runtime Interface Emulator into $(CACHE)

$(RIE):
	GOBIN=$(dir $@) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

.PHONY: bootstrap
bootstrap: ## build the Lambda bootstrap for arm64 and amd64 into dist/
	for arch in arm64 amd64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build $(GOFLAGS_BUILD) -ldflags='-s -w' -o dist/$$arch/bootstrap ./lambda/cmd/tvm; \
	done

.PHONY: clean
clean: ## remove build outputs (the tool cache in $(CACHE) stays)
	rm -rf $(BIN)
