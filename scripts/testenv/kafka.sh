#!/usr/bin/env bash
# Stop/start the real Kafka broker that scripts/testenv/up.sh prepared, keeping
# its data dir. For integration tests that take the broker away mid-test.
#
#   scripts/testenv/kafka.sh stop      # graceful (SIGTERM, controlled shutdown)
#   scripts/testenv/kafka.sh kill      # SIGKILL, a crash
#   scripts/testenv/kafka.sh start     # returns once the broker answers again
#   scripts/testenv/kafka.sh restart
#   scripts/testenv/kafka.sh status    # exit 0 if running and answering
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  load_secrets
  case "${1:-}" in
    start) take_lock; kafka_start ;;
    stop) take_lock; kafka_stop; log "kafka: stopped" ;;
    kill) take_lock; kafka_kill; log "kafka: killed" ;;
    restart) take_lock; kafka_stop; kafka_start ;;
    status)
      local pid
      if pid=$(pid_of kafka) && kafka_probe; then
        echo "kafka: running, pid $pid, 127.0.0.1:$KAFKA_PORT"
      else
        echo "kafka: not running or not answering"
        exit 1
      fi
      ;;
    *) die "usage: $0 start|stop|kill|restart|status" ;;
  esac
}

main "$@"
exit
