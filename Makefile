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

# The AWS CLI v1 the client tests drive through credential_process. It pins
# botocore exactly, so it gets its own virtualenv rather than sharing moto's.
AWSCLI_VERSION := 1.46.3
AWSCLI_VENV    := $(CACHE)/awscli-$(AWSCLI_VERSION)
AWSCLI         := $(AWSCLI_VENV)/bin/aws

# schemathesis fuzzes `sentinel-tvm dev` with api/openapi.yaml. Its own
# virtualenv: it pins its dependencies (hypothesis, requests, ...) loosely and
# moto's tightly-pinned botocore need not move with it. Every package of it
# (botocore too, for the SigV4 auth hook scripts/schemathesis_sigv4.py) is
# pinned in the constraints file, and the directory is keyed on that file's
# content as well as the version: changing a pin installs afresh. It needs
# Python >= 3.11 (hypothesis); SCHEMATHESIS_PYTHON= picks another interpreter.
SCHEMATHESIS_VERSION     := 4.32.5
SCHEMATHESIS_CONSTRAINTS := scripts/schemathesis-constraints.txt
SCHEMATHESIS_PYTHON      ?= python3
SCHEMATHESIS_PINS        := $(shell sha256sum $(SCHEMATHESIS_CONSTRAINTS) | cut -c1-12)
SCHEMATHESIS_VENV        := $(CACHE)/schemathesis-$(SCHEMATHESIS_VERSION)-$(SCHEMATHESIS_PINS)
SCHEMATHESIS             := $(SCHEMATHESIS_VENV)/bin/schemathesis

# IAM and Terraform linters, each in a virtualenv keyed by its version and
# by its constraints file's content (every dependency pinned there):
# parliament lints the IAM documents `make iam-policies` renders; checkov
# the Terraform.
PARLIAMENT_VERSION     := 1.6.4
PARLIAMENT_CONSTRAINTS := scripts/parliament-constraints.txt
PARLIAMENT_VENV        := $(CACHE)/parliament-$(PARLIAMENT_VERSION)-$(shell sha256sum $(PARLIAMENT_CONSTRAINTS) | cut -c1-12)
PARLIAMENT             := $(PARLIAMENT_VENV)/bin/parliament
CHECKOV_VERSION        := 3.3.30
CHECKOV_CONSTRAINTS    := scripts/checkov-constraints.txt
CHECKOV_VENV           := $(CACHE)/checkov-$(CHECKOV_VERSION)-$(shell sha256sum $(CHECKOV_CONSTRAINTS) | cut -c1-12)
CHECKOV                := $(CHECKOV_VENV)/bin/checkov

# The Lambda Runtime Interface Emulator runs the real bootstrap in tests.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE         := $(CACHE)/rie-$(RIE_VERSION)/aws-lambda-rie

# The console's browser tests drive headless Chromium: Debian's chromium
# package, installed with apt-get when missing (root, or sudo when there is
# one). CHROMIUM= points at another binary.
CHROMIUM ?= /usr/bin/chromium

# Terraform checks. OpenTofu is built from tools/tofu/go.mod (pinned there:
# keep TOFU_VERSION in step) and tflint with go install, each once into a
# versioned path of $(CACHE). TFCHECK=PATH also runs a provider-schema
# checker (tfcheck DIR...), a development aid that CI does not need.
TOFU_VERSION   := v1.12.6
TOFU           := $(CACHE)/tofu-$(TOFU_VERSION)/tofu
TFLINT_VERSION := v0.64.0
TFLINT         := $(CACHE)/tflint-$(TFLINT_VERSION)/tflint
TFCHECK        ?=
# No user CLI configuration: fmt and the validation tests need no provider.
TOFU_ENV       := TF_CLI_CONFIG_FILE=/dev/null

# The Terraform provider (internal/provider): bin/ holds it under the name
# Terraform looks for, with the Lambda handler zips of the same source
# embedded (the sentinel_embed build tag). VERSION is the release's version
# without the v; development builds say "dev".
VERSION       ?= dev
PROVIDER      := $(BIN)/terraform-provider-sentinel
LAMBDA_ZIPDIR := internal/provider/lambdazip
LAMBDA_ZIPS   := $(LAMBDA_ZIPDIR)/handler-arm64.zip $(LAMBDA_ZIPDIR)/handler-amd64.zip
GO_SOURCES     = go.mod go.sum $(shell find cmd client internal lambda -name '*.go' -not -name '*_test.go')
LDFLAGS        = -s -w -X main.version=$(VERSION)

# make dist: the release. Platforms of the CLI and the provider; the
# SBOM tool and the workflow linter are installed into $(CACHE) like the rest.
DIST            := $(CURDIR)/dist/$(VERSION)
PLATFORMS       := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
CYCLONEDX_VERSION := v1.10.0
CYCLONEDX       := $(CACHE)/cyclonedx-gomod-$(CYCLONEDX_VERSION)/cyclonedx-gomod
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT      := $(CACHE)/actionlint-$(ACTIONLINT_VERSION)/actionlint
# Release builds stamp nothing that depends on the machine or the time: the
# SBOM's timestamp comes from the commit (or 0 outside git).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
SBOM_TIME          = $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)

export GOFLAGS := -buildvcs=false

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: build
build: $(CLI) ## build the sentinel-tvm CLI into bin/

$(CLI): go.mod go.sum $(shell find cmd client internal lambda -name '*.go' -not -name '*_test.go')
	$(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/sentinel-tvm

.PHONY: provider
provider: $(PROVIDER) ## build the Terraform provider (Lambda zips embedded) into bin/

# tools/package builds each zip reproducibly; the provider embeds both.
$(LAMBDA_ZIPDIR)/handler-%.zip: go.mod go.sum $(shell find client internal lambda -name '*.go' -not -name '*_test.go' -not -path '*/provider/*') tools/package/main.go
	$(GO) run ./tools/package -arch $* -o $@

$(PROVIDER): $(GO_SOURCES) $(LAMBDA_ZIPS)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -tags=sentinel_embed -ldflags='$(LDFLAGS)' -o $@ ./cmd/terraform-provider-sentinel

# The release, reproducibly (the same commit and go.mod toolchain give the
# same bytes anywhere), into dist/VERSION/:
#   cli/       sentinel-tvm_VERSION_OS_ARCH[.exe] for every platform
#   provider/  the Terraform registry's layout: terraform-provider-sentinel_VERSION_OS_ARCH.zip
#              (each holding terraform-provider-sentinel_vVERSION), _SHA256SUMS, _manifest.json
#   lambda/    sentinel-tvm-lambda_VERSION_linux_ARCH.zip (what the provider embeds)
#   sbom/      CycloneDX SBOMs of the CLI, the provider and the bootstrap
#   SHA256SUMS of all of it. docs/releasing.md says how it is signed and published.
.PHONY: dist
dist: $(LAMBDA_ZIPS) $(CYCLONEDX) ## build a release into dist/VERSION (VERSION=1.2.3): CLI, provider (registry layout), Lambda zips, SBOM
	@case "$(VERSION)" in v*) echo "VERSION is the release's version without the v (VERSION=1.2.3)" >&2; exit 1;; esac
	rm -rf $(DIST) && mkdir -p $(DIST)/cli $(DIST)/provider $(DIST)/lambda $(DIST)/sbom
	for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOAMD64=v1 GOARM64=v8.0 $(GO) build $(GOFLAGS_BUILD) \
	    -ldflags='-s -w -X github.com/sentinel-tvm/sentinel-tvm/internal/cli.Version=$(VERSION)' \
	    -o $(DIST)/cli/sentinel-tvm_$(VERSION)_$${os}_$${arch}$$ext ./cmd/sentinel-tvm; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOAMD64=v1 GOARM64=v8.0 $(GO) build $(GOFLAGS_BUILD) -tags=sentinel_embed \
	    -ldflags='$(LDFLAGS)' -o $(DIST)/tmp/terraform-provider-sentinel_v$(VERSION)$$ext ./cmd/terraform-provider-sentinel; \
	  $(GO) run ./tools/package -file $(DIST)/tmp/terraform-provider-sentinel_v$(VERSION)$$ext \
	    -name terraform-provider-sentinel_v$(VERSION)$$ext \
	    -o $(DIST)/provider/terraform-provider-sentinel_$(VERSION)_$${os}_$${arch}.zip >/dev/null; \
	  rm -rf $(DIST)/tmp; \
	done
	cp terraform-registry-manifest.json $(DIST)/provider/terraform-provider-sentinel_$(VERSION)_manifest.json
	cd $(DIST)/provider && sha256sum *.zip *_manifest.json > terraform-provider-sentinel_$(VERSION)_SHA256SUMS
	for arch in arm64 amd64; do cp $(LAMBDA_ZIPDIR)/handler-$$arch.zip $(DIST)/lambda/sentinel-tvm-lambda_$(VERSION)_linux_$$arch.zip; done
	# cyclonedx-gomod reads the main module's version from git (go-git, which
	# cannot open a worktree): it runs in a clone of the commit. The SBOM's
	# timestamp becomes the commit's time, so it is reproducible too.
	src=$$(mktemp -d) && git clone --quiet . $$src/src && \
	for m in cmd/sentinel-tvm cmd/terraform-provider-sentinel lambda/tvm; do \
	  out=$(DIST)/sbom/$$(basename $$m)_$(VERSION).cdx.json; \
	  (cd $$src/src && $(CYCLONEDX) app -json -noserial -main $$m -output $$out .) && \
	  sed -i -E 's/"timestamp": "[^"]*"/"timestamp": "$(SBOM_TIME)"/' $$out; \
	done; rm -rf $$src
	cd $(DIST) && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS

# dist twice, the second time with an empty build cache, and compare.
.PHONY: dist-check
dist-check: ## check that make dist is reproducible (builds everything twice)
	$(MAKE) --no-print-directory dist VERSION=$(VERSION)
	mv $(DIST) $(DIST).first
	GOCACHE=$$(mktemp -d) $(MAKE) --no-print-directory dist VERSION=$(VERSION)
	diff $(DIST).first/SHA256SUMS $(DIST)/SHA256SUMS && rm -rf $(DIST).first && echo "dist is reproducible"

$(CYCLONEDX):
	GOBIN=$(dir $@) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_VERSION)

$(ACTIONLINT):
	GOBIN=$(dir $@) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

.PHONY: actionlint
actionlint: $(ACTIONLINT) ## lint the GitHub Actions workflows in .github/workflows
	$(ACTIONLINT) -no-color

.PHONY: test
test: vet go-test policy-test terraform-check actionlint iam-lint checkov schemathesis ## run every test CI runs

# make -j test: schemathesis (two cores' worth of fuzzing, timing-sensitive
# start-up) runs after the Go tests rather than beside them.
ifneq ($(filter test,$(MAKECMDGOALS)),)
schemathesis fuzz: | go-test
endif

.PHONY: vet
vet: ## go vet and gofmt check
	@out=$$(gofmt -l cmd client internal lambda test tools 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: go-test
go-test: $(MOTO_SERVER) $(AWSCLI) $(RIE) $(TOFU) $(PROVIDER) chromium ## Go unit and integration tests (fuzz seed corpora and the console's browser tests included)
	SENTINEL_TVM_MOTO_SERVER=$(MOTO_SERVER) SENTINEL_TVM_AWSCLI=$(AWSCLI) SENTINEL_TVM_RIE=$(RIE) SENTINEL_TVM_TOFU=$(TOFU) SENTINEL_TVM_PROVIDER=$(PROVIDER) SENTINEL_TVM_CHROMIUM=$(CHROMIUM) $(GO) test -count=1 ./...

.PHONY: chromium
chromium: ## install headless Chromium (Debian's chromium package) for the console's browser tests, when missing
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	  sudo=; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
	  echo "installing chromium with apt-get (the console's browser tests need it)"; \
	  $$sudo apt-get install -y --no-install-recommends chromium || { $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends chromium; }; \
	  test -x "$(CHROMIUM)"

.PHONY: screenshots
screenshots: $(MOTO_SERVER) chromium ## rerun the console's browser tests and rewrite docs/images/console-*.png
	SENTINEL_UPDATE_SCREENSHOTS=1 SENTINEL_TVM_MOTO_SERVER=$(MOTO_SERVER) SENTINEL_TVM_CHROMIUM=$(CHROMIUM) $(GO) test -count=1 -run '^TestConsoleInBrowser$$' ./internal/cli

.PHONY: moto
moto: $(MOTO_SERVER) ## install the moto AWS emulator into $(CACHE)

# --clear starts over from a venv an interrupted run left behind; a failed
# install removes moto_server so the next run tries again instead of trusting it.
$(MOTO_SERVER):
	python3 -m venv --clear $(MOTO_VENV)
	$(MOTO_VENV)/bin/pip install --quiet --disable-pip-version-check "moto[server]==$(MOTO_VERSION)" || { rm -f $@; exit 1; }
	test -x $@ && touch $@

.PHONY: awscli
awscli: $(AWSCLI) ## install the AWS CLI (v1) the client tests use into $(CACHE)

# As for moto: start from a clean venv, and a failed install leaves no aws.
$(AWSCLI):
	python3 -m venv --clear $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/pip install --quiet --disable-pip-version-check "awscli==$(AWSCLI_VERSION)" || { rm -f $@; exit 1; }
	test -x $@ && touch $@

# make test's run is deterministic: a fixed seed, bounded by examples per
# operation (MAX_EXAMPLES=), with a generous time cap per identity only as a
# safety net. SEED=random (or make fuzz) explores: a random seed, printed, and
# bounded by time instead. REPORT_DIR= keeps the JUnit/NDJSON reports.
.PHONY: schemathesis
schemathesis: $(CLI) $(MOTO_SERVER) $(SCHEMATHESIS) ## fuzz `sentinel-tvm dev` on moto with api/openapi.yaml (fixed seed, about 2.5 minutes; SEED=, SEED=random, REPORT_DIR=)
	CLI=$(CLI) MOTO_SERVER=$(MOTO_SERVER) SCHEMATHESIS=$(SCHEMATHESIS) GO=$(GO) scripts/schemathesis.sh

.PHONY: fuzz
fuzz: $(CLI) $(MOTO_SERVER) $(SCHEMATHESIS) ## schemathesis with a random seed, bounded by time (MAX_TIME= seconds per identity, default 60)
	SEED=random CLI=$(CLI) MOTO_SERVER=$(MOTO_SERVER) SCHEMATHESIS=$(SCHEMATHESIS) GO=$(GO) scripts/schemathesis.sh

# As for moto: start from a clean venv, and a failed install leaves no
# schemathesis. The interpreter's version is checked first: on an older one
# pip fails with a resolver error that does not say why.
$(SCHEMATHESIS):
	@$(SCHEMATHESIS_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "schemathesis $(SCHEMATHESIS_VERSION) needs Python >= 3.11 (hypothesis); $(SCHEMATHESIS_PYTHON) is $$($(SCHEMATHESIS_PYTHON) --version 2>&1)." >&2; \
	  echo "Install a newer python3, or point SCHEMATHESIS_PYTHON= at one (e.g. SCHEMATHESIS_PYTHON=python3.12)." >&2; exit 1; }
	$(SCHEMATHESIS_PYTHON) -m venv --clear $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/pip install --quiet --disable-pip-version-check -c $(SCHEMATHESIS_CONSTRAINTS) "schemathesis==$(SCHEMATHESIS_VERSION)" botocore || { rm -f $@; exit 1; }
	test -x $@ && touch $@

.PHONY: policy-test
policy-test: $(CLI) ## compile the example policies and run their test cases
	$(CLI) policy fmt --check policies
	$(CLI) policy test policies

.PHONY: terraform-check
terraform-check: $(TOFU) $(TFLINT) ## tofu fmt, tflint, vet of the Terratest suites (and tfcheck with TFCHECK=PATH)
	$(TOFU_ENV) $(TOFU) fmt -check -recursive -diff .
	$(TFLINT) --recursive --config $(CURDIR)/.tflint.hcl
	if [ -n "$(TFCHECK)" ]; then $(TFCHECK) . modules/* examples/*; fi
	$(GO) vet -tags aws ./test/...

.PHONY: iam-policies
iam-policies: ## render every IAM document the module and the handler write, with placeholders, into build/iam
	$(GO) run ./tools/iampolicies -out build/iam

.PHONY: iam-lint
iam-lint: iam-policies $(PARLIAMENT) ## lint build/iam with parliament (exceptions and their reasons: scripts/iam-lint-exceptions.yaml)
	$(PARLIAMENT_VENV)/bin/python scripts/iam_lint.py build/iam scripts/iam-lint-exceptions.yaml

.PHONY: checkov
checkov: $(CHECKOV) ## checkov on the module, its submodules and examples (skipped checks and their reasons: .checkov.yaml)
	$(CHECKOV) --config-file .checkov.yaml

# As for moto: a clean venv, and a failed install leaves no binary.
$(PARLIAMENT):
	python3 -m venv --clear $(PARLIAMENT_VENV)
	$(PARLIAMENT_VENV)/bin/pip install --quiet --disable-pip-version-check -c $(PARLIAMENT_CONSTRAINTS) "parliament==$(PARLIAMENT_VERSION)" || { rm -f $@; exit 1; }
	test -x $@ && touch $@

$(CHECKOV):
	python3 -m venv --clear $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -c $(CHECKOV_CONSTRAINTS) "checkov==$(CHECKOV_VERSION)" || { rm -f $@; exit 1; }
	test -x $@ && touch $@

.PHONY: docs
docs: ## regenerate the README inputs/outputs tables from the .tf files and docs/api.md from api/openapi.yaml
	$(GO) run ./tools/tfdocs . modules/protected-role modules/revocation-writer
	$(GO) run ./tools/apidoc

.PHONY: test-aws
test-aws: ## deploy examples/ to the AWS account of your credentials and test them (TERRAFORM_BINARY=tofu|terraform)
	$(GO) test -tags aws -p 1 -count=1 -timeout 60m ./test/...

.PHONY: tofu
tofu: $(TOFU) ## build the pinned OpenTofu into $(CACHE) (several minutes, once)

# Keyed by version in the path, so no prerequisites: a restored cache is
# reused whatever its timestamps. A failed build leaves nothing behind.
$(TOFU):
	mkdir -p $(dir $@)
	cd tools/tofu && $(GO) build -trimpath -o $@.tmp github.com/opentofu/opentofu/cmd/tofu || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

$(TFLINT):
	GOBIN=$(dir $@) $(GO) install github.com/terraform-linters/tflint@$(TFLINT_VERSION)

.PHONY: bench
bench: ## run the benchmarks recorded in docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(MAKE) --no-print-directory bench-perf

# The end-to-end figures of docs/benchmarks.md (internal/perf): vend
# against bare AssumeRole and throughput through `sentinel-tvm dev` on moto
# behind the latency proxy, the bootstrap's init and size; then the cold
# start under aws-lambda-rie that lambda/tvm's test logs.
.PHONY: bench-perf
bench-perf: $(MOTO_SERVER) $(RIE) ## the end-to-end benchmarks only (a few minutes)
	SENTINEL_PERF=1 SENTINEL_TVM_MOTO_SERVER=$(MOTO_SERVER) $(GO) test -count=1 -v -timeout 30m -run '^$$' -bench . -benchtime 1x ./internal/perf
	SENTINEL_RIE_STARTS=21 SENTINEL_TVM_MOTO_SERVER=$(MOTO_SERVER) SENTINEL_TVM_RIE=$(RIE) $(GO) test -count=1 -v -run '^TestBootstrapUnderRIE$$' ./lambda/tvm | grep -E 'cold start|stripped bootstrap|^(ok|FAIL|--- )'

.PHONY: run
run: $(CLI) $(MOTO_SERVER) ## run the service locally on the moto AWS emulator (Ctrl-C stops it)
	CLI=$(CLI) MOTO_SERVER=$(MOTO_SERVER) scripts/run-local.sh

.PHONY: rie
rie: $(RIE) ## install the Lambda Runtime Interface Emulator into $(CACHE)

$(RIE):
	GOBIN=$(dir $@) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

.PHONY: bootstrap
# lambda.norpc: see buildTags in tools/package (the size target in docs/benchmarks.md).
bootstrap: ## build the Lambda bootstrap for arm64 and amd64 into dist/
	for arch in arm64 amd64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build $(GOFLAGS_BUILD) -tags=lambda.norpc -ldflags='-s -w' -o dist/$$arch/bootstrap ./lambda/tvm; \
	done

.PHONY: clean
clean: ## remove build outputs (the tool cache in $(CACHE) stays)
	rm -rf $(BIN) dist $(LAMBDA_ZIPS)
