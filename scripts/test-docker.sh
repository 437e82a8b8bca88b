#!/usr/bin/env bash
# `make test-docker`: the compose smoke test (scripts/compose-smoke.sh: the
# whole docker-compose.yml stack up and healthy), then the integration suite (./integration, TestIntegration*)
# against containers started by testcontainers-go (apache/kafka) instead of
# the servers of scripts/testenv. Needs a Docker engine; where none answers,
# every test skips and says so (the real-broker suite, scripts/test.sh, is
# what CI runs).
#
# Environment: WATERSHED_DOCKER_KAFKA_IMAGE (default apache/kafka:4.1.0),
# WATERSHED_TEST_KCAT (a kcat binary on this host, for the interop test),
# GO_TEST_FLAGS (extra flags, e.g. -run TestIntegrationKcat).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/compose-smoke.sh"
cd "$root/integration"

if ! command -v docker >/dev/null 2>&1; then
  echo "test-docker: no docker CLI; testcontainers-go will look for an engine on DOCKER_HOST or the default socket"
elif ! docker info >/dev/null 2>&1; then
  echo "test-docker: no Docker engine answers (docker info failed): the tests will skip and say so"
fi
if [[ -z "${WATERSHED_TEST_KCAT:-}" ]] && command -v kcat >/dev/null 2>&1; then
  export WATERSHED_TEST_KCAT=$(command -v kcat)
fi
# The containers' ports and credentials come from testcontainers, never from
# a testenv env file left in this shell.
unset WATERSHED_TEST_KAFKA WATERSHED_TEST_KAFKA_SASL WATERSHED_TESTENV_KAFKA_SH

go vet -tags docker ./...
log="$root/.watershed/test-docker.log"
mkdir -p "$(dirname "$log")"
status=0
# shellcheck disable=SC2086
go test -tags docker -race -count=1 -v -timeout 20m ${GO_TEST_FLAGS:-} ./... >"$log" 2>&1 || status=$?
grep -E '^(ok|FAIL|--- |panic:|integration:)|no Docker engine' "$log" || true
echo "test-docker: full log in $log"
exit "$status"
