# chronik build and test entry points. `make run` and `make test` are the two
# commands README.md promises work on a fresh machine (after .ci/run's installs).

GO        ?= go
BIN       := bin/chronik
PKGS      := ./...
# Whole-suite bound: CI has 2 cores; keep the suite well under 15 minutes.
# The packages with multi-broker Raft clusters (HEAVY) run one at a time
# (-p 1): in parallel they would starve each other of CPU and time out.
# The others (one-node clusters at most) run two at a time first.
TEST_TIMEOUT ?= 12m
HEAVY     := ./engine ./kafka ./internal/compat ./internal/proctest
LIGHT      = $$($(GO) list ./... | grep -v -e '/engine$$' -e '/kafka$$' -e '/internal/compat$$' -e '/internal/proctest$$')
FUZZTIME  ?= 30s

.PHONY: all build run test test-short test-faults bench bench-scale fuzz lint vet fmt clean kgo-integration

all: build

build:
	$(GO) build -o $(BIN) ./cli/chronik

run: build
	./$(BIN) start

test: build
	$(GO) test -p 2 -count=1 -timeout $(TEST_TIMEOUT) $(LIGHT)
	$(GO) test -p 1 -count=1 -timeout $(TEST_TIMEOUT) $(HEAVY)

test-short:
	$(GO) test -short -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

# franz-go's whole integration suite (pkg/kgo) against a one-node chronik;
# make test runs a subset.
kgo-integration:
	CHRONIK_FRANZ_GO_TESTS=all $(GO) test -count=1 -timeout 25m -run '^TestFranzGoIntegration$$' -v ./internal/compat/

# The fault suite at full length: each scenario (kill -9, SIGSTOP, Raft-port
# partitions, power loss, torn segment tails) under a 60 s bench verify load,
# FAULT_RUNS times, one JSON line per run appended to FAULT_REPORT. make test
# runs each scenario once with a 7 s load, and leaves out the variants of
# TestKillLeaderFailover and TestRollingRestart, the 100-topic restart and
# the grow-to-4-and-shrink-to-3 run under load (TestGrowShrinkUnderLoad),
# that test-faults adds. CHRONIK_TEST_ALL=1 make test runs the variants of
# engine and kafka tests that make test leaves out.
FAULT_RUNS   ?= 3
FAULT_REPORT ?= faults-report.jsonl
test-faults: build
	CHRONIK_FAULTS=full CHRONIK_FAULTS_RUNS=$(FAULT_RUNS) CHRONIK_FAULTS_REPORT=$(abspath $(FAULT_REPORT)) \
		$(GO) test -count=1 -timeout 120m -run '^(TestFaults|TestKillLeaderFailover|TestRollingRestart|TestManyTopicsRestart|TestTxnETLBrokerKill|TestGrowShrinkUnderLoad)$$' -v ./internal/proctest/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 $(PKGS)

# Runs every fuzz target for FUZZTIME each (go test -fuzz takes one target at a time).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# The scale benchmark (docs/CLUSTER.md, "Scale"): three chronik start
# processes with 1,000 topics of 2 partitions RF=3, then 10 GiB of data and
# a restart. SCALE_TOPICS, SCALE_DATA (bytes) and SCALE_REPORT adjust it.
SCALE_TOPICS ?= 1000
SCALE_DATA   ?= 10737418240
SCALE_REPORT ?= scale-report.json
bench-scale: build
	CHRONIK_SCALE=1 CHRONIK_SCALE_TOPICS=$(SCALE_TOPICS) CHRONIK_SCALE_DATA=$(SCALE_DATA) \
		CHRONIK_SCALE_REPORT=$(abspath $(SCALE_REPORT)) CHRONIK_BIN=$(abspath $(BIN)) \
		$(GO) test -count=1 -timeout 60m -run '^TestScale$$' -v ./internal/proctest/
