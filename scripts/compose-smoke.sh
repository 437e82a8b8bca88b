#!/usr/bin/env bash
# scripts/compose-smoke.sh — `docker compose up` proven: build the images,
# start the whole stack of docker-compose.yml (every profile) with fresh
# credentials under a project of its own, wait until every service is
# healthy and every one-shot (topics, buckets, s3-volume) has exited 0,
# then take it down with its volumes. Run by `make test-docker`.
#
# Needs a Docker engine with the compose plugin (v2.17+ for --wait). Without
# one it says so and exits 0 (skipped): this is not part of `make test`.
#
# Environment: SMOKE_TIMEOUT (seconds, default 900), SMOKE_KEEP=1 (leave the
# stack up to look at it; `docker compose -p watershed-smoke down -v` later).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ! command -v docker >/dev/null 2>&1; then
  echo "compose-smoke: SKIP: no Docker engine: the docker CLI is not installed"
  exit 0
fi
if ! docker info >/dev/null 2>&1; then
  echo "compose-smoke: SKIP: no Docker engine answers (docker info failed; is the daemon running, may this user use it?)"
  exit 0
fi
docker compose version >/dev/null 2>&1 || { echo "compose-smoke: the docker compose plugin is missing" >&2; exit 1; }

project=watershed-smoke
secrets=$(mktemp -d)
export WATERSHED_SECRETS_DIR=$secrets/secrets
compose=(docker compose -p "$project" -f docker-compose.yml --profile '*')
cleanup() {
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    "${compose[@]}" ps -a || true
    "${compose[@]}" logs --no-color --tail 50 || true
  fi
  if [[ ${SMOKE_KEEP:-0} != 1 ]]; then
    "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
    rm -rf "$secrets"
  fi
  exit "$rc"
}
trap cleanup EXIT

deploy/init-secrets.sh >/dev/null
# Without htpasswd init-secrets leaves the console without users, and a
# console without users refuses to start: give it an API token instead.
if ! grep -q '^CONSOLE_USERS=' "$WATERSHED_SECRETS_DIR/console.env"; then
  tok=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  printf 'CONSOLE_TOKENS=smoke:viewer:%s\n' "$(printf %s "$tok" | sha256sum | cut -d' ' -f1)" >>"$WATERSHED_SECRETS_DIR/console.env"
fi
echo "compose-smoke: docker compose up --build --wait (up to ${SMOKE_TIMEOUT:-900}s)"
"${compose[@]}" up -d --build --wait --wait-timeout "${SMOKE_TIMEOUT:-900}"

# --wait covers running services; check every container's end state too.
bad=0
while IFS=$'\t' read -r name state health exit_code; do
  case $state/$health in
    running/healthy) ;;
    exited/*) [[ $exit_code == 0 ]] || { echo "compose-smoke: $name exited $exit_code" >&2; bad=1; } ;;
    *) echo "compose-smoke: $name is $state (health: ${health:-none})" >&2; bad=1 ;;
  esac
done < <("${compose[@]}" ps -a --format '{{.Service}}\t{{.State}}\t{{.Health}}\t{{.ExitCode}}')
services=$("${compose[@]}" config --services | wc -l)
running=$("${compose[@]}" ps -a -q | wc -l)
[[ $running -eq $services ]] || { echo "compose-smoke: $running containers for $services services" >&2; bad=1; }
[[ $bad == 0 ]] || exit 1
echo "compose-smoke: ok: $services services healthy or done"
