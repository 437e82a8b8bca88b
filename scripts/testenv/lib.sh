# shellcheck shell=bash disable=SC2034,SC2016
# Shared helpers for scripts/testenv/{up,down,kafka}.sh. Sourced, not executed.

TESTENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE_DIR=${WATERSHED_TESTENV_STATE:-$TESTENV_DIR/.state}
LOG_DIR=$STATE_DIR/logs
RUN_DIR=$STATE_DIR/run
CACHE_DIR=${WATERSHED_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/watershed-testenv}
ENV_FILE=$STATE_DIR/env
SECRETS_FILE=$STATE_DIR/secrets.env

# Fixed loopback ports (overridable only to dodge a clash on a shared machine).
REDIS_PORT=${WATERSHED_TESTENV_REDIS_PORT:-16379}
MQTT_PORT=${WATERSHED_TESTENV_MQTT_PORT:-11883}
S3_PORT=${WATERSHED_TESTENV_S3_PORT:-17070}
KAFKA_PORT=${WATERSHED_TESTENV_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${WATERSHED_TESTENV_KAFKA_CONTROLLER_PORT:-19093}
KAFKA_SASL_PORT=${WATERSHED_TESTENV_KAFKA_SASL_PORT:-19094}
SMTP_PORT=${WATERSHED_TESTENV_SMTP_PORT:-11025}

VERSITYGW_VERSION=${WATERSHED_TESTENV_VERSITYGW_VERSION:-v1.8.0}
# SMTP server for the alert-router's email receiver: aiosmtpd from PyPI in a venv.
AIOSMTPD_VERSION=${WATERSHED_TESTENV_AIOSMTPD_VERSION:-1.4.6}
S3_BUCKET=watershed-test
S3_REGION=us-east-1
KAFKA_SASL_USER=watershed
KAFKA_SASL_MECHANISM=SCRAM-SHA-512
REDIS_ACL_USER=watershed

# Bounded waits (seconds) for a server to answer after start.
REDIS_TIMEOUT=${WATERSHED_TESTENV_REDIS_TIMEOUT:-30}
MQTT_TIMEOUT=${WATERSHED_TESTENV_MQTT_TIMEOUT:-30}
SMTP_TIMEOUT=${WATERSHED_TESTENV_SMTP_TIMEOUT:-30}
S3_TIMEOUT=${WATERSHED_TESTENV_S3_TIMEOUT:-30}
KAFKA_TIMEOUT=${WATERSHED_TESTENV_KAFKA_TIMEOUT:-120}
KAFKA_STOP_TIMEOUT=${WATERSHED_TESTENV_KAFKA_STOP_TIMEOUT:-60}
KAFKA_HEAP_OPTS=${WATERSHED_TESTENV_KAFKA_HEAP:-"-Xmx1g -Xms512m"}
# C1-only JIT: the broker starts about twice as fast on 2 busy cores; a test
# broker's load does not need C2. Set to "-XX:+UseG1GC" for peak throughput.
KAFKA_JVM_OPTS=${WATERSHED_TESTENV_KAFKA_JVM_OPTS:-"-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1"}
# AppCDS archive of the broker's classes, dumped at the first clean stop and
# reused by every later start (another ~30% off start time). 0 disables.
KAFKA_CDS=${WATERSHED_TESTENV_KAFKA_CDS:-1}

log() { printf '[testenv %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# skipped NAME: true when NAME is listed in WATERSHED_TESTENV_SKIP (comma separated).
skipped() {
  local s=",${WATERSHED_TESTENV_SKIP:-},"
  s=${s// /}
  case "$1" in
    mqtt) [[ $s == *,mqtt,* || $s == *,mosquitto,* ]] ;;
    s3) [[ $s == *,s3,* || $s == *,versitygw,* ]] ;;
    *) [[ $s == *",$1,"* ]] ;;
  esac
}

# Serialise up/down/kafka.sh: Go test packages may call them in parallel.
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  if ! flock -w "${WATERSHED_TESTENV_LOCK_TIMEOUT:-900}" 9; then
    die "another testenv script holds $STATE_DIR/.lock for too long"
  fi
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# proc_stat PID: prints "STATE STARTTIME" of PID from /proc (start time in
# clock ticks since boot; a pid reused by another process has another one).
proc_stat() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  local -a fields
  read -r -a fields <<<"$s"
  echo "${fields[0]} ${fields[19]}"
}

# pid_of NAME: prints the pid recorded for NAME if that very process (same
# start time) is still alive; else returns 1. (redis rewrites its argv, so the
# command line cannot identify it.)
pid_of() {
  local f=$RUN_DIR/$1.pid pid start st
  [[ -s $f ]] || return 1
  read -r pid start <"$f" || true
  [[ $pid =~ ^[0-9]+$ && -n $start ]] || return 1
  st=$(proc_stat "$pid") || return 1
  [[ ${st%% *} != Z && ${st#* } == "$start" ]] || return 1
  echo "$pid"
}

# start_bg NAME LOGFILE CMD...: start CMD in its own session, detached from our
# stdio, appending to LOGFILE; records its pid in $RUN_DIR/NAME.pid.
start_bg() {
  local name=$1 logf=$2; shift 2
  local pidf=$RUN_DIR/$name.pid
  mkdir -p "$RUN_DIR" "$(dirname "$logf")"
  rm -f "$pidf"
  local cmdline="$*"
  ((${#cmdline} <= 400)) || cmdline="${cmdline:0:400}..."
  printf '\n===== %s starting %s: %s\n' "$(date '+%F %T')" "$name" "$cmdline" >>"$logf"
  # The inner shell records its own pid then execs the server, so the pid file
  # holds the server's pid whether or not setsid had to fork.
  # fd 9 is the testenv lock: the server must not inherit (and hold) it.
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidf" "$@" \
    </dev/null >>"$logf" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    if [[ -s $pidf ]]; then
      local pid st
      pid=$(<"$pidf")
      st=$(proc_stat "$pid") || st="X 0"
      echo "$pid ${st#* }" >"$pidf"
      return 0
    fi
    sleep 0.1
  done
  die "$name: could not record its pid in $pidf; see $logf"
}

# stop_named NAME TIMEOUT: SIGTERM, wait up to TIMEOUT s, then SIGKILL
# (and then sets STOP_KILLED=1).
STOP_KILLED=0
stop_named() {
  local name=$1 timeout=${2:-20} pid i
  STOP_KILLED=0
  if ! pid=$(pid_of "$name"); then
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    pid_of "$name" >/dev/null || break
    sleep 0.1
  done
  if pid_of "$name" >/dev/null; then
    log "$name: still running after ${timeout}s, sending SIGKILL"
    STOP_KILLED=1
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      pid_of "$name" >/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$RUN_DIR/$name.pid"
}

# wait_ready NAME TIMEOUT LOGFILE PROBE...: polls PROBE until it succeeds;
# fails with the server's name and log if it exits or does not answer in time.
wait_ready() {
  local name=$1 timeout=$2 logf=$3; shift 3
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! pid_of "$name" >/dev/null; then
      log "$name: process exited during startup. Last lines of $logf:"
      tail -n 30 "$logf" >&2 || true
      die "$name did not start; full log: $logf"
    fi
    sleep 0.3
  done
  log "$name: no answer within ${timeout}s. Last lines of $logf:"
  tail -n 30 "$logf" >&2 || true
  die "$name did not answer within ${timeout}s (pid $(pid_of "$name" || echo '?')); full log: $logf"
}

# port_free_or_die NAME PORT: a port we are about to bind must not be held by a stranger.
port_free_or_die() {
  # a server of ours that was just stopped or killed may take a moment to
  # release its sockets: give the port a few seconds before blaming a stranger
  local i
  for ((i = 0; i < 50; i++)); do
    port_open "$2" || return 0
    sleep 0.2
  done
  if port_open "$2"; then
    die "$1: 127.0.0.1:$2 is already in use by a process testenv did not start (see: ss -ltnp 'sport = :$2'); stop it or free the port"
  fi
}

config_hash() { cat "$@" | sha256sum | cut -c1-16; }

rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# Secrets are generated once per state dir and reused (Kafka's SCRAM user is
# written into its metadata log at format time, so it must stay stable).
load_secrets() {
  mkdir -p "$STATE_DIR"
  if [[ ! -s $SECRETS_FILE ]]; then
    (
      umask 077
      {
        echo "REDIS_ACL_PASSWORD=$(rand_hex 16)"
        echo "S3_ACCESS_KEY=WSTEST$(rand_hex 7 | tr 'a-f' 'A-F')"
        echo "S3_SECRET_KEY=$(rand_hex 20)"
        echo "KAFKA_SASL_PASSWORD=$(rand_hex 16)"
      } >"$SECRETS_FILE.tmp"
    )
    mv "$SECRETS_FILE.tmp" "$SECRETS_FILE"
  fi
  # shellcheck disable=SC1090
  source "$SECRETS_FILE"
}

kcat_bin() {
  local b
  for b in /usr/bin/kcat /usr/bin/kafkacat; do
    [[ -x $b ]] && { echo "$b"; return 0; }
  done
  command -v kcat || command -v kafkacat || return 1
}

# ---------------------------------------------------------------- Kafka ----
KAFKA_DIR=$STATE_DIR/kafka
KAFKA_LOG=$LOG_DIR/kafka.log
KAFKA_PROPS=$KAFKA_DIR/server.properties
KAFKA_CP_FILE=$KAFKA_DIR/classpath.txt

kafka_probe() {
  local kc out
  kc=$(kcat_bin) || return 1
  out=$(timeout 15 "$kc" -L -b "127.0.0.1:$KAFKA_PORT" -m 5 2>/dev/null) || return 1
  grep -q "127.0.0.1:$KAFKA_PORT" <<<"$out"
}

# The SASL listener is probed with Kafka's own Java client: Debian 12's kcat
# (librdkafka 2.0.2) cannot do SCRAM against Kafka 4.x brokers (fixed in
# librdkafka 2.6.1). The probe class is compiled once into the cache.
kafka_sasl_probe() {
  local src=$TESTENV_DIR/kafka/SaslProbe.java
  local dir
  dir=$CACHE_DIR/kafka/probe-$(config_hash "$src")
  if [[ ! -s $dir/SaslProbe.class ]]; then
    mkdir -p "$dir.tmp"
    javac -nowarn -cp "$(<"$KAFKA_CP_FILE")" -d "$dir.tmp" "$src" >&2 || return 1
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD timeout 90 java -Xmx64m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2-quiet.properties" \
    -cp "$(<"$KAFKA_CP_FILE"):$dir" SaslProbe "127.0.0.1:$KAFKA_SASL_PORT" \
    "$KAFKA_SASL_MECHANISM" "$KAFKA_SASL_USER"
}

# kafka_start: start the already formatted broker and wait until it answers on
# the plain and (if configured) SASL listeners. Keeps the data dir.
kafka_start() {
  [[ -s $KAFKA_PROPS && -s $KAFKA_CP_FILE && -s $KAFKA_DIR/data/meta.properties ]] ||
    die "kafka: not prepared under $KAFKA_DIR; run scripts/testenv/up.sh first"
  local pid
  if pid=$(pid_of kafka); then
    if kafka_probe; then
      log "kafka: already running (pid $pid)"
      return 0
    fi
    log "kafka: pid $pid is not answering; restarting it"
    kafka_stop
  fi
  port_free_or_die kafka "$KAFKA_PORT"
  port_free_or_die kafka "$KAFKA_CONTROLLER_PORT"
  port_free_or_die kafka "$KAFKA_SASL_PORT"
  local java=${JAVA:-java}
  local -a cds=()
  kafka_cds_args
  # shellcheck disable=SC2086
  start_bg kafka "$KAFKA_LOG" "$java" $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS "${cds[@]}" \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$(<"$KAFKA_CP_FILE")" kafka.Kafka "$KAFKA_PROPS"
  local t0=$SECONDS
  wait_ready kafka "$KAFKA_TIMEOUT" "$KAFKA_LOG" kafka_probe
  kafka_conf_hash >"$RUN_DIR/kafka.hash"
  log "kafka: answering on 127.0.0.1:$KAFKA_PORT (pid $(pid_of kafka), $((SECONDS - t0))s)"
}

kafka_conf_hash() {
  config_hash "$KAFKA_PROPS" "$KAFKA_DIR/log4j2.properties" "$KAFKA_CP_FILE" \
    <(echo "$KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS $KAFKA_CDS")
}

# kafka_cds_args: sets cds=(...) for kafka_start. The archive is keyed by the
# classpath, the java binary and the JVM options; a stale one is ignored by
# the JVM (-Xshare:auto), so at worst it does not help.
kafka_cds_args() {
  cds=()
  ((KAFKA_CDS)) || return 0
  local java_path key jsa
  java_path=$(readlink -f "$(command -v "${JAVA:-java}")" 2>/dev/null || echo java)
  key=$(config_hash "$KAFKA_CP_FILE" <(echo "$java_path $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS"))
  jsa=$CACHE_DIR/kafka/cds-$key.jsa
  mkdir -p "$CACHE_DIR/kafka"
  if [[ -s $jsa ]]; then
    cds=(-XX:SharedArchiveFile="$jsa" -Xlog:cds=off -Xlog:cds+dynamic=off)
  else
    # dumped when the JVM exits cleanly; kafka_stop moves it into place. A
    # pending dump left by a JVM that died on its own is dropped first.
    local stale
    if [[ -s $RUN_DIR/kafka.cds-pending ]]; then
      read -r stale _ <"$RUN_DIR/kafka.cds-pending" || true
      [[ -n $stale ]] && rm -f "$stale"
    fi
    local tmp=$jsa.tmp.$$
    echo "$tmp $jsa" >"$RUN_DIR/kafka.cds-pending"
    cds=(-XX:ArchiveClassesAtExit="$tmp" -Xlog:cds=off -Xlog:cds+dynamic=off)
  fi
}

kafka_cds_finish() {
  local killed=${1:-0} f=$RUN_DIR/kafka.cds-pending tmp jsa
  [[ -s $f ]] || return 0
  read -r tmp jsa <"$f" || true
  rm -f "$f"
  # only a JVM that exited by itself has written a whole archive
  if ((!killed)) && [[ -n $tmp && -s $tmp ]]; then
    mv -f "$tmp" "$jsa" && log "kafka: class-data archive saved for faster starts ($jsa)"
  else
    rm -f "$tmp"
  fi
}

kafka_stop() {
  stop_named kafka "$KAFKA_STOP_TIMEOUT"
  kafka_cds_finish "$STOP_KILLED"
}

kafka_kill() {
  local pid
  if pid=$(pid_of kafka); then
    log "kafka: SIGKILL pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do pid_of kafka >/dev/null || break; sleep 0.1; done
  fi
  rm -f "$RUN_DIR/kafka.pid"
  kafka_cds_finish 1 # no archive after a SIGKILL: drops the pending one
}
