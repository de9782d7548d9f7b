# grantd — the two commands of the quick start are `make run` and `make test`.
GO ?= go
# How much `make test` fuzzes the REST request decoders (the gateway's and
# the authorize route's own), the Kubernetes review decoder (against
# encoding/json), the JSON skipping under both, the JSON string writer
# they and the decision log share, and the engine plugin's request
# handling, each
# (the seed corpus of every fuzz test also runs as part of the ordinary
# tests): a number of inputs, not a duration.
# Go 1.26's fuzzing coordinator can fail a duration-bounded run that ends
# while a worker is busy ("context deadline exceeded", no failing input;
# go.dev/issue/75804, fixed in Go 1.27), which a loaded machine makes
# likely; a count has no deadline to race.
FUZZTIME ?= 30000x

# Optional build tags this machine has what they need for
# (internal/buildtags): isal, the decision log's gzip by Intel's ISA-L,
# when Debian's libisal-dev is installed (build-deps installs it as root;
# so does make test). Expanded when the build runs, after build-deps.
# `make build TAGS=` builds pure Go, and installs nothing.
TAGS ?= $(shell test -f /usr/include/isa-l/igzip_lib.h && echo isal)

.PHONY: run test test-deps generate build build-deps fmt-check tracked-check ui ui-screenshots

## run: start grantd on its embedded default (single-node store in ./grantd-data, TLS on :8443).
## The binary replaces the recipe's shell, so SIGTERM and Ctrl-C reach grantd itself.
run: build
	exec bin/grantd

## test: the whole test suite, with everything it needs provisioned
test: fmt-check tracked-check test-deps
	$(GO) vet ./...
	$(GO) tool -modfile=tools/go.mod staticcheck ./...
	$(GO) test -race -count=1 -timeout 45m ./...
	$(GO) vet -tags isal ./decisionlog
	$(GO) tool -modfile=tools/go.mod staticcheck -tags isal ./decisionlog
	$(GO) test -race -tags isal -count=1 ./decisionlog
	cd e2e/kubernetes && $(GO) vet ./... && $(GO) test -count=1 -timeout 20m ./...
	cd ui && npm ci --no-audit --no-fund && npm run check && node build.mjs --check && npm test
	$(GO) test -run '^$$' -fuzz '^FuzzRESTBodies$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzAuthorizeDecode$$' -fuzztime $(FUZZTIME) ./server
	$(GO) test -run '^$$' -fuzz '^FuzzReviewDecode$$' -fuzztime $(FUZZTIME) ./adapters/kubernetes
	$(GO) test -run '^$$' -fuzz '^FuzzSkip$$' -fuzztime $(FUZZTIME) ./internal/plainjson
	$(GO) test -run '^$$' -fuzz '^FuzzAppendString$$' -fuzztime $(FUZZTIME) ./internal/plainjson
	$(GO) test -run '^$$' -fuzz '^FuzzPluginRequest$$' -fuzztime $(FUZZTIME) ./adapters/engine
	GRANTD_BENCH_LDAP_USERS=500 $(GO) test -run '^$$' -bench 'SyncLargeDirectory|LDAPLogin' -benchtime 2x ./ldapsync

## test-deps: install what the tests run for real (Debian's slapd, dockerd, etcd, chromium, nginx, postgresql, ...) when missing
test-deps:
	@scripts/test-deps.sh

## tracked-check: nothing built (binaries, large outputs) is tracked by git
tracked-check:
	@scripts/check-tracked.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## generate: regenerate the API from proto/ with local plugins only (offline)
generate:
	$(GO) tool -modfile=tools/go.mod buf generate

## ui: rebuild the admin console into ui/dist (committed; make test fails when it is stale)
ui:
	cd ui && npm ci --no-audit --no-fund && npm run build

## ui-screenshots: the console's browser tests, keeping their screenshots in docs/console
ui-screenshots:
	cd ui && npm ci --no-audit --no-fund && GRANTD_UI_SCREENSHOTS=../docs/console npm test

## build: the grantd and grantctl binaries in bin/ (with the isal tag where libisal-dev is, or can be, installed)
build: build-deps
	$(GO) build -tags '$(TAGS)' -o bin/ ./cmd/...

## build-deps: install libisal-dev (Debian) when missing, as root; never fails the build. Not with TAGS set.
build-deps:
	@case "$(origin TAGS)" in file) scripts/build-deps.sh ;; esac
