#!/usr/bin/env bash
# Stops every server scripts/testenv/up.sh started (by their pid files).
# Keeps data, secrets and caches; idempotent. `down.sh --purge` also deletes
# scripts/testenv/.state (Kafka data, S3 objects, generated secrets).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  local purge=0
  case "${1:-}" in
    "") ;;
    --purge) purge=1 ;;
    *) die "usage: $0 [--purge]" ;;
  esac

  [[ -d $STATE_DIR ]] || { log "nothing to stop ($STATE_DIR does not exist)"; exit 0; }
  take_lock
  kafka_stop
  stop_named versitygw 20
  stop_named mosquitto 20
  stop_named smtp 20
  stop_named redis 20
  rm -f "$RUN_DIR"/*.hash "$ENV_FILE"
  if ((purge)); then
    log "purging $STATE_DIR"
    # keep the lock file we hold until we exit
    find "$STATE_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  fi
  log "all testenv servers stopped"
}

main "$@"
exit
