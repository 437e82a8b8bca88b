#!/usr/bin/env bash
# scripts/build-images.sh — build service images from deploy/service.Dockerfile.
#
#   scripts/build-images.sh                     # every service in docker-compose.yml's list
#   scripts/build-images.sh gap-detector hot-pond
#
# Environment (defaults):
#   IMAGE_PREFIX  watershed       images are $IMAGE_PREFIX/<service>:<tag>
#   IMAGE_TAG     the service's version in modules.txt (also tagged "dev")
#   PLATFORMS     (builder's)     e.g. linux/amd64,linux/arm64 (needs PUSH=1 for several)
#   PUSH          0               1: --push instead of --load
#   BUILDX_FLAGS  ""              extra flags for docker buildx build
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Every service the compose file and the chart run (the supervisor runs on
# bare metal and edge hosts, not in a container).
all=(meter-simulator mqtt-gateway reading-validator gap-detector usage-aggregator
  feeder-aggregator outage-detector hot-pond raw-archiver river-archiver
  heartbeat-monitor registry demand-tracker clock-watch dlq-replayer command-dispatcher alert-router console usage-insights load-forecaster billing-estimator)

die() { echo "build-images: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 ||
  die "docker not found: install Docker Engine (or Docker Desktop) with the buildx plugin, then rerun"
docker buildx version >/dev/null 2>&1 ||
  die "docker buildx not available: install the buildx plugin (https://docs.docker.com/build/install-buildx/)"
docker info >/dev/null 2>&1 ||
  die "cannot reach the Docker engine (is the daemon running, and may this user use it?)"

services=("$@")
[[ ${#services[@]} -gt 0 ]] || services=("${all[@]}")

prefix=${IMAGE_PREFIX:-watershed}
output=--load
[[ ${PUSH:-0} == 1 ]] && output=--push
platform=()
[[ -n ${PLATFORMS:-} ]] && platform=(--platform "$PLATFORMS")
# shellcheck disable=SC2206
extra=(${BUILDX_FLAGS:-})

failed=()
for s in "${services[@]}"; do
  [[ -f services/$s/main.go ]] || { echo "build-images: services/$s/main.go not found: not a service" >&2; failed+=("$s"); continue; }
  version=$(awk -v d="services/$s" '$1 == d { print $2 }' modules.txt)
  [[ -n $version ]] || { echo "build-images: no version for services/$s in modules.txt (add \"services/$s vX.Y.Z\")" >&2; failed+=("$s"); continue; }
  tag=${IMAGE_TAG:-$version}
  echo "build-images: $prefix/$s:$tag (version $version)"
  if ! docker buildx build "${platform[@]}" "${extra[@]}" $output \
    -f deploy/service.Dockerfile \
    --build-arg SERVICE="$s" --build-arg VERSION="$version" \
    -t "$prefix/$s:$tag" -t "$prefix/$s:dev" \
    .; then
    failed+=("$s")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  die "failed: ${failed[*]}"
fi
echo "build-images: built ${#services[@]} image(s)"
