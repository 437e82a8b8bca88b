# Watershed — the two commands a new user needs are `make dev` and `make test`.
SHELL := /bin/bash
GO    ?= go

.PHONY: dev test test-unit test-docker bench bench-pipeline fuzz vet fmt tags build help

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

dev: ## run the whole ecosystem on embedded defaults (data under ./.watershed)
	$(GO) run ./cmd/watershed dev

test: ## install/start real servers (Redis, Kafka, S3, MQTT), then vet + race-test every module both ways
	scripts/test.sh

test-unit: ## fast: every module's tests with no real servers (integration tests skip and say why)
	WATERSHED_TESTENV_SKIP=all scripts/test.sh --no-servers

test-docker: ## the integration suite against containers (needs a Docker engine)
	scripts/test-docker.sh

bench: ## run the benchmarks and rewrite BENCHMARKS.md with machine and date
	scripts/bench.sh

bench-pipeline: ## the pipeline vs the plain kafka-go yardstick (../shared/perf/rawpipe) in one run, into BENCHMARKS.md
	scripts/bench-pipeline.sh

fuzz: ## run the envelope fuzz targets for FUZZTIME (default 30s each)
	FUZZTIME=$${FUZZTIME:-30s} scripts/fuzz.sh

build: ## build every module's binaries into ./bin
	scripts/build.sh

tags: ## tag modules <dir>/vX.Y.Z from modules.txt (dry run unless PUSH=1)
	scripts/tag-modules.sh

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')
