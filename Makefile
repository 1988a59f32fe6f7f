# salvage: `make demo` runs the whole job on the committed scenario;
# `make test` installs the tests' real peers if missing, then runs every test.

GO      ?= go
BIN     := bin/salvage
# Packages whose tests also run under the race detector (needs cgo and gcc).
RACE    := ./evidence/... ./sources/... ./reconcile/... ./export/xlsx/...

.PHONY: all build test setup lint demo bench eval scenario clean

all: build

## build: a static binary at bin/salvage
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/salvage

## setup: install the Debian packages the tests' real peers need (see .ci/packages)
setup:
	@scripts/test-setup

## lint: gofmt, go vet and staticcheck (a go.mod tool; staticcheck.conf says which checks)
lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## test: setup, lint, then every test (evidence, sources, reconcile and the workbook under the race detector)
test: setup lint
	$(GO) test -race $(RACE)
	$(GO) test $$($(GO) list ./... | grep -v -E '/(evidence|sources|reconcile|export/xlsx)(/|$$)')

## demo: the whole recovery on the committed scenario, into ./salvage-demo
demo: build
	$(BIN) demo --scenario fixtures/scenario --out salvage-demo

## bench: the benchmarks, with each performance goal and whether it is met
bench:
	@scripts/bench-report

## eval: measure the reconciler against ground truth (committed scenario, then 5,000 bookings), with each goal
eval:
	@scripts/eval

## scenario: regenerate the committed scenario (the fixtures test checks it is current)
scenario:
	$(GO) run ./fixtures/gen -seed 1 -bookings 300 -out fixtures/scenario

clean:
	rm -rf bin salvage-demo bench.txt
