# m2m — common tasks. `make help` lists them.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
CONNECTOR_IMAGE ?= m2m/connector:0.1.0
export TESTCONTAINERS_RYUK_DISABLED := true
# Compose v2 for the parity scenario and bench-up; .ci/run builds it here from its Go module.
M2M_COMPOSE_BIN ?= $(wildcard $(HOME)/.cache/m2m/docker-compose-v2)
export M2M_COMPOSE_BIN

.PHONY: help build deps test test-unit e2e generate lint fuzz bench-ilp bench-up bench-day2 bench-swarm image-local up

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build m2mctl and m2m-connector into bin/
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/m2mctl ./cmd/m2mctl
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/m2m-connector ./cmd/m2m-connector

generate: ## rewrite docker-compose-production.yml and .env.example from the stack package
	$(GO) run ./internal/generate .

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

deps: ## what the tests need from the distribution (busybox-static, prometheus, gcc): installed when root, else the command to run
	@./scripts/test-deps.sh

test: deps lint ## everything: unit tests, engine tests (skipped with one line when no engine answers), bounded fuzzing
	@if [ "$$M2M_REQUIRE_DOCKER" != 1 ] && ! docker info >/dev/null 2>&1; then \
	  echo "m2m: no Docker engine answers: the engine tests (deployer, test/e2e, the docs' engine commands) are skipped; M2M_REQUIRE_DOCKER=1 makes that a failure"; fi
	@if [ -z "$$TB_ADDRESSES" ]; then \
	  echo "m2m: TB_ADDRESSES is not set: the TigerBeetle contract tests (connector/ledger) are skipped; TB_ADDRESSES=ip:port runs them against a real cluster"; fi
	$(GO) test -count=1 -timeout 40m ./...
	$(MAKE) --no-print-directory fuzz

test-unit: ## unit tests only (no engine)
	M2M_SKIP_DOCKER=1 $(GO) test -count=1 ./...

fuzz: ## run each fuzz target for a bounded number of inputs (a count, not a duration: a time limit can end a busy worker mid-input and fail spuriously)
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 200000x ./connector/ilp
	$(GO) test -run '^$$' -fuzz '^FuzzBTPDecode$$' -fuzztime 60000x ./connector/btp

e2e: ## whole-deployment tests on the real engine (testcontainers-go)
	$(GO) test -count=1 -timeout 30m -v ./test/e2e/...

# Five samples of each benchmark: the figures are medians of five (benchstat summarises them).
BENCH_COUNT ?= 5
bench-ilp: ## ILP forwarding throughput/latency and codec speed, BENCH_COUNT samples each (default 5)
	$(GO) test -run '^$$' -bench 'BenchmarkILP|BenchmarkCodec' -benchmem -count $(BENCH_COUNT) ./connector/...

bench-up: ## m2mctl up against docker compose up -d --wait (set M2M_COMPOSE_BIN)
	$(GO) test -run '^$$' -bench 'BenchmarkUp' -benchtime 5x -timeout 40m -v ./test/e2e/

bench-day2: ## images save/load of the whole stack, backup/restore and upgrade times, and /health/ready downtime during backup and upgrade, BENCH_COUNT rounds
	$(GO) test -run '^$$' -bench '^BenchmarkDay2$$' -benchtime $(BENCH_COUNT)x -timeout 40m -v ./test/e2e/

bench-swarm: ## m2mctl up against docker stack deploy on a three-node test swarm of namespaced engines (root), cold and no-op, BENCH_ROUNDS rounds (default 3)
	set -o pipefail; M2M_BENCH=1 $(GO) test -count=1 -timeout 60m -run '^TestBenchSwarmUp$$' -v ./test/e2e/ | grep -E 'swarm_bench|^(ok|FAIL|---)'

bench-discovery: ## discovery registry under load (real binary), 304 server time, and the 100,000-node feed and 10,000-node peer-selection simulations
	set -o pipefail; M2M_BENCH=1 $(GO) test -count=1 -run '^TestBenchDiscoveryRegistry$$' -v ./cmd/m2m-connector/ | grep -E '^\s+discovery_bench|^(ok|FAIL|---)'
	$(GO) test -count=1 -run '^$$' -bench '^(BenchmarkNotModified|BenchmarkListPage)$$' -benchtime 2000x ./connector/discovery/
	set -o pipefail; M2M_SIM=1 $(GO) test -count=1 -timeout 60m -run '^TestSimulate' -v ./connector/discovery/ | grep -E '^\s+sim_test|^(ok|FAIL|---)'

image-local: ## build the connector image from a static binary, no registry needed
	COMMIT=$(COMMIT) ./deploy/build-local.sh $(CONNECTOR_IMAGE)

up: build image-local ## run the node: builds the connector image locally, then m2mctl up (the init wizard runs first when there is no .env)
	./bin/m2mctl up
