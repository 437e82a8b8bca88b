#!/usr/bin/env bash
# Installs what is missing and starts the real servers the Watershed tests use,
# on 127.0.0.1, then writes scripts/testenv/.state/env (export lines).
# Idempotent: servers already running with the same config are reused, ones
# whose config changed are restarted. See scripts/testenv/README.md.
#
#   scripts/testenv/up.sh                         # everything
#   WATERSHED_TESTENV_SKIP=kafka,s3 scripts/testenv/up.sh
#   . scripts/testenv/.state/env
# shellcheck disable=SC2016,SC2317 # literal $SYS topics; probes are called indirectly
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

declare -a TIMINGS=()
timed() { TIMINGS+=("$1=$2s"); }
want() { ! skipped "$1"; }
declare -a ENV_LINES=()

# ------------------------------------------------------------ packages ----
pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

java_major() {
  local v
  v=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}') || return 1
  [[ -n $v ]] || return 1
  v=${v#1.}
  echo "${v%%[.+-]*}"
}

install_packages() {
  local -a pkgs=()
  local p
  if want redis; then
    for p in redis-server redis-tools; do pkg_installed "$p" || pkgs+=("$p"); done
  fi
  if want mqtt; then
    for p in mosquitto mosquitto-clients; do pkg_installed "$p" || pkgs+=("$p"); done
  fi
  if want kcat || want kafka; then
    kcat_bin >/dev/null 2>&1 || pkgs+=(KCAT)
  fi
  if want s3; then
    command -v curl >/dev/null || pkgs+=(curl)
  fi
  if want chromium; then
    pkg_installed chromium || pkgs+=(chromium)
  fi
  if want kafka; then
    local jm
    jm=$(java_major 2>/dev/null || echo 0)
    # a JDK: javac compiles the SASL probe (kafka/SaslProbe.java)
    if ((jm < 17)) || ! command -v javac >/dev/null; then pkgs+=(openjdk-17-jdk-headless); fi
    command -v mvn >/dev/null || pkgs+=(maven)
  fi
  ((${#pkgs[@]})) || { log "packages: all present"; return 0; }

  local sudo=
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install: ${pkgs[*]}"
    sudo="sudo -n"
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "packages: apt-get update"
  $sudo apt-get update -q >>"$LOG_DIR/apt.log" 2>&1 ||
    die "apt-get update failed (are Debian's package mirrors reachable?); see $LOG_DIR/apt.log"
  # Debian's kcat was called kafkacat before bookworm.
  local i
  for i in "${!pkgs[@]}"; do
    if [[ ${pkgs[$i]} == KCAT ]]; then
      if apt-cache show kcat >/dev/null 2>&1; then pkgs[i]=kcat; else pkgs[i]=kafkacat; fi
    fi
  done
  # Keep the packaged redis/mosquitto services from starting on install: we run
  # our own instances on our own ports. Only if no policy-rc.d exists already.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && made_policy=1
  fi
  log "packages: apt-get install ${pkgs[*]}"
  local rc=0
  $sudo apt-get install -y -q --no-install-recommends "${pkgs[@]}" >>"$LOG_DIR/apt.log" 2>&1 || rc=$?
  ((made_policy)) && $sudo rm -f "$policy"
  ((rc == 0)) || die "apt-get install ${pkgs[*]} failed; see $LOG_DIR/apt.log"
}

# ------------------------------------------------------ versitygw build ----
VGW_BIN=$CACHE_DIR/versitygw-$VERSITYGW_VERSION/versitygw
VGW_BUILD_PID=
versitygw_build_bg() {
  [[ -x $VGW_BIN ]] && return 0
  command -v go >/dev/null || die "s3: the Go toolchain is needed to build versitygw ($VERSITYGW_VERSION)"
  local out=$CACHE_DIR/versitygw-$VERSITYGW_VERSION
  log "s3: building versitygw $VERSITYGW_VERSION with go install (log: $LOG_DIR/versitygw-build.log)"
  (
    set -e
    exec 9>&- # not the testenv lock; a cache lock instead, shared by all state dirs
    exec 8>"$CACHE_DIR/.versitygw-$VERSITYGW_VERSION.lock"
    flock 8
    [[ -x $VGW_BIN ]] && exit 0
    rm -rf "$out.tmp"
    mkdir -p "$out.tmp"
    cd "$CACHE_DIR"
    GOWORK=off GOFLAGS='' GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$out.tmp" \
      go install -trimpath "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
    rm -rf "$out" && mv "$out.tmp" "$out"
  ) >>"$LOG_DIR/versitygw-build.log" 2>&1 &
  VGW_BUILD_PID=$!
}
versitygw_build_wait() {
  [[ -n $VGW_BUILD_PID ]] || return 0
  local t0=$SECONDS
  wait "$VGW_BUILD_PID" || {
    tail -n 20 "$LOG_DIR/versitygw-build.log" >&2
    die "s3: building versitygw $VERSITYGW_VERSION failed (Go module proxy reachable?); see $LOG_DIR/versitygw-build.log"
  }
  VGW_BUILD_PID=
  log "s3: versitygw built (waited ${SECONDS}s since start, $((SECONDS - t0))s here) -> $VGW_BIN"
}

# reuse_or_stop NAME HASH PROBE...: true if NAME runs with config HASH and
# answers (reuse it); otherwise stops whatever of ours is there and returns 1.
reuse_or_stop() {
  local name=$1 hash=$2 pid; shift 2
  if pid=$(pid_of "$name"); then
    if [[ $(cat "$RUN_DIR/$name.hash" 2>/dev/null) == "$hash" ]] && "$@" >/dev/null 2>&1; then
      log "$name: reusing running server (pid $pid)"
      return 0
    fi
    log "$name: config changed or not answering; restarting"
    stop_named "$name" 20
  fi
  rm -f "$RUN_DIR/$name.hash"
  return 1
}

# --------------------------------------------------------------- redis ----
redis_probe() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }
redis_acl_probe() {
  [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --user "$REDIS_ACL_USER" --pass "$REDIS_ACL_PASSWORD" \
    --no-auth-warning ping 2>/dev/null) == PONG ]]
}
up_redis() {
  local t0=$SECONDS dir=$STATE_DIR/redis
  mkdir -p "$dir"
  local bin
  bin=$(command -v redis-server || echo /usr/bin/redis-server)
  cat >"$dir/redis.conf.new" <<EOF
# generated by scripts/testenv/up.sh
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize no
supervised no
dir $dir
logfile ""
save ""
appendonly no
databases 16
user default on nopass ~* &* +@all
user $REDIS_ACL_USER on >$REDIS_ACL_PASSWORD ~* &* +@all
EOF
  chmod 600 "$dir/redis.conf.new"
  mv "$dir/redis.conf.new" "$dir/redis.conf"
  local hash
  hash=$(config_hash "$dir/redis.conf" <(echo "$bin"))
  if ! reuse_or_stop redis "$hash" redis_acl_probe; then
    port_free_or_die redis "$REDIS_PORT"
    start_bg redis "$LOG_DIR/redis.log" "$bin" "$dir/redis.conf"
    wait_ready redis "$REDIS_TIMEOUT" "$LOG_DIR/redis.log" redis_probe
    wait_ready redis "$REDIS_TIMEOUT" "$LOG_DIR/redis.log" redis_acl_probe
    echo "$hash" >"$RUN_DIR/redis.hash"
    log "redis: $("$bin" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') answering on 127.0.0.1:$REDIS_PORT (pid $(pid_of redis))"
  fi
  # the chaos suite (integration/chaos) runs redis-servers of its own, to kill
  ENV_LINES+=("WATERSHED_TEST_REDIS_SERVER=$bin")
  ENV_LINES+=("WATERSHED_TEST_REDIS=redis://127.0.0.1:$REDIS_PORT/0"
    "WATERSHED_TEST_REDIS_ACL=redis://$REDIS_ACL_USER:$REDIS_ACL_PASSWORD@127.0.0.1:$REDIS_PORT/0")
  timed redis $((SECONDS - t0))
}

# ---------------------------------------------------------------- mqtt ----
mqtt_probe() {
  mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t '$SYS/broker/version' -C 1 -W 3 2>/dev/null | grep -q mosquitto
}
up_mqtt() {
  local t0=$SECONDS dir=$STATE_DIR/mosquitto
  mkdir -p "$dir"
  local bin
  bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  [[ -x $bin ]] || die "mqtt: mosquitto binary not found (package mosquitto)"
  cat >"$dir/mosquitto.conf" <<EOF
# generated by scripts/testenv/up.sh
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
log_dest stdout
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
EOF
  local hash
  hash=$(config_hash "$dir/mosquitto.conf" <(echo "$bin"))
  if ! reuse_or_stop mosquitto "$hash" mqtt_probe; then
    port_free_or_die mosquitto "$MQTT_PORT"
    start_bg mosquitto "$LOG_DIR/mosquitto.log" "$bin" -c "$dir/mosquitto.conf"
    wait_ready mosquitto "$MQTT_TIMEOUT" "$LOG_DIR/mosquitto.log" mqtt_probe
    echo "$hash" >"$RUN_DIR/mosquitto.hash"
    log "mqtt: $(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t '$SYS/broker/version' -C 1 -W 3) answering on 127.0.0.1:$MQTT_PORT (pid $(pid_of mosquitto))"
  fi
  ENV_LINES+=("WATERSHED_TEST_MQTT=tcp://127.0.0.1:$MQTT_PORT")
  timed mqtt $((SECONDS - t0))
}

# ---------------------------------------------------------------- smtp ----
# A real SMTP server (aiosmtpd, PyPI) that keeps every message it accepts in
# a Maildir, so tests read what arrived: the alert-router's email receiver.
smtp_probe() {
  local greeting
  exec 7<>"/dev/tcp/127.0.0.1/$SMTP_PORT" || return 1
  IFS= read -r -t 3 greeting <&7 || true
  printf 'QUIT\r\n' >&7 || true
  exec 7>&- 7<&-
  [[ $greeting == 220* ]]
}
up_smtp() {
  local t0=$SECONDS dir=$STATE_DIR/smtp venv=$STATE_DIR/venv
  mkdir -p "$dir/maildir/tmp" "$dir/maildir/new" "$dir/maildir/cur" # Maildir's own layout
  command -v python3 >/dev/null || die "smtp: python3 is needed for aiosmtpd (package python3, python3-venv)"
  if [[ ! -x $venv/bin/python ]]; then
    log "smtp: creating the Python venv $venv"
    python3 -m venv "$venv" >>"$LOG_DIR/pip.log" 2>&1 ||
      die "smtp: python3 -m venv failed (package python3-venv?); see $LOG_DIR/pip.log"
  fi
  if ! "$venv/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    log "smtp: pip install aiosmtpd==$AIOSMTPD_VERSION (log: $LOG_DIR/pip.log)"
    "$venv/bin/pip" install -q "aiosmtpd==$AIOSMTPD_VERSION" >>"$LOG_DIR/pip.log" 2>&1 ||
      die "smtp: pip install aiosmtpd==$AIOSMTPD_VERSION failed (is PyPI reachable?); see $LOG_DIR/pip.log"
  fi
  local hash
  hash=$(config_hash <(echo "$venv $AIOSMTPD_VERSION $SMTP_PORT $dir/maildir"))
  if ! reuse_or_stop smtp "$hash" smtp_probe; then
    port_free_or_die smtp "$SMTP_PORT"
    start_bg smtp "$LOG_DIR/smtp.log" "$venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
      -c aiosmtpd.handlers.Mailbox "$dir/maildir"
    wait_ready smtp "$SMTP_TIMEOUT" "$LOG_DIR/smtp.log" smtp_probe
    echo "$hash" >"$RUN_DIR/smtp.hash"
    log "smtp: aiosmtpd $AIOSMTPD_VERSION answering on 127.0.0.1:$SMTP_PORT (pid $(pid_of smtp)), mail in $dir/maildir"
  fi
  ENV_LINES+=("WATERSHED_TEST_SMTP=127.0.0.1:$SMTP_PORT" "WATERSHED_TEST_SMTP_MAILDIR=$dir/maildir")
  timed smtp $((SECONDS - t0))
}

# ------------------------------------------------------------------ s3 ----
s3_curl() {
  curl -sS --max-time 10 --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}
s3_probe() { [[ $(s3_curl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/") == 200 ]]; }
up_s3() {
  local t0=$SECONDS dir=$STATE_DIR/s3
  versitygw_build_wait
  timed s3-build-wait $((SECONDS - t0))
  mkdir -p "$dir/data"
  local hash
  hash=$(config_hash <(echo "$VGW_BIN $VERSITYGW_VERSION $S3_PORT $S3_REGION $S3_ACCESS_KEY $S3_SECRET_KEY"))
  if ! reuse_or_stop versitygw "$hash" s3_probe; then
    port_free_or_die versitygw "$S3_PORT"
    # credentials go through the environment, not the command line
    ROOT_ACCESS_KEY="$S3_ACCESS_KEY" ROOT_SECRET_KEY="$S3_SECRET_KEY" \
      start_bg versitygw "$LOG_DIR/versitygw.log" "$VGW_BIN" \
      --port "127.0.0.1:$S3_PORT" --region "$S3_REGION" --quiet \
      posix "$dir/data"
    wait_ready versitygw "$S3_TIMEOUT" "$LOG_DIR/versitygw.log" s3_probe
    echo "$hash" >"$RUN_DIR/versitygw.hash"
    log "s3: versitygw $VERSITYGW_VERSION answering on 127.0.0.1:$S3_PORT (pid $(pid_of versitygw))"
  fi
  # CreateBucket through the S3 API (so the gateway stores the bucket's owner
  # and ACL); 409 BucketAlreadyOwnedByYou on later runs is fine.
  local code
  code=$(s3_curl -o "$dir/create-bucket.out" -w '%{http_code}' -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET") || code=000
  if [[ $code != 200 && $code != 409 ]]; then
    cat "$dir/create-bucket.out" >&2 || true
    die "s3: CreateBucket $S3_BUCKET returned HTTP $code; see $LOG_DIR/versitygw.log"
  fi
  code=$(s3_curl -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$S3_PORT/$S3_BUCKET") || code=000
  [[ $code == 200 ]] || die "s3: HeadBucket $S3_BUCKET returned HTTP $code; see $LOG_DIR/versitygw.log"
  ENV_LINES+=("WATERSHED_TEST_S3=http://127.0.0.1:$S3_PORT"
    "WATERSHED_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY"
    "WATERSHED_TEST_S3_SECRET_KEY=$S3_SECRET_KEY"
    "WATERSHED_TEST_S3_BUCKET=$S3_BUCKET"
    "WATERSHED_TEST_S3_REGION=$S3_REGION")
  timed s3 $((SECONDS - t0))
}

# --------------------------------------------------------------- kafka ----
KAFKA_VERSION=
kafka_classpath() {
  local pom=$TESTENV_DIR/kafka/pom.xml
  local key cached
  key=$(config_hash "$pom")
  cached=$CACHE_DIR/kafka/classpath-$key.txt
  if [[ -s $cached ]]; then
    local j ok=1
    local -a jars
    IFS=: read -r -a jars <"$cached" || true # no trailing newline
    for j in "${jars[@]}"; do [[ -f $j ]] || { ok=0; break; }; done
    ((ok)) && { cp "$cached" "$KAFKA_CP_FILE"; return 0; }
  fi
  command -v mvn >/dev/null || die "kafka: mvn not found (package maven)"
  log "kafka: resolving $(grep -o '<kafka.version>[^<]*' "$pom" | cut -d'>' -f2) from Maven Central (log: $LOG_DIR/maven.log)"
  mkdir -p "$CACHE_DIR/kafka"
  if ! mvn -B -q -f "$pom" dependency:build-classpath \
    -Dmdep.outputFile="$cached.tmp" -Dmdep.includeScope=runtime >>"$LOG_DIR/maven.log" 2>&1; then
    tail -n 15 "$LOG_DIR/maven.log" >&2 || true
    die "kafka: Maven could not resolve the Kafka broker from Maven Central ($pom). Is Maven Central reachable? No fallback is used. See $LOG_DIR/maven.log"
  fi
  mv "$cached.tmp" "$cached"
  cp "$cached" "$KAFKA_CP_FILE"
}

kafka_write_config() {
  local sasl=1
  skipped kafka-sasl && sasl=0
  local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
  local advertised="PLAINTEXT://127.0.0.1:$KAFKA_PORT"
  local protomap="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if ((sasl)); then
    listeners+=",SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT"
    advertised+=",SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT"
    protomap+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  cat >"$KAFKA_PROPS" <<EOF
# generated by scripts/testenv/up.sh: single-node KRaft, combined broker+controller
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protomap
log.dirs=$KAFKA_DIR/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
log.segment.bytes=16777216
# after a SIGKILL (kafka.sh kill) the old registration blocks the restarted
# broker until its session expires (default 9s): keep that short
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
EOF
  if ((sasl)); then
    cat >>"$KAFKA_PROPS" <<EOF
sasl.enabled.mechanisms=$KAFKA_SASL_MECHANISM
listener.name.sasl_plaintext.sasl.enabled.mechanisms=$KAFKA_SASL_MECHANISM
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  fi
  cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
# generated by scripts/testenv/up.sh
status = warn
name = watershed-testenv-kafka
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  cat >"$KAFKA_DIR/log4j2-quiet.properties" <<'EOF'
# generated by scripts/testenv/up.sh: for the SASL probe client
status = error
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %p %m (%c)%n
rootLogger.level = ERROR
rootLogger.appenderRef.stderr.ref = STDERR
EOF
}

kafka_format_if_needed() {
  local sasl_tag=none
  skipped kafka-sasl || sasl_tag="$KAFKA_SASL_MECHANISM:$KAFKA_SASL_USER:$(config_hash <(echo "$KAFKA_SASL_PASSWORD"))"
  local stamp="kafka=$KAFKA_VERSION scram=$sasl_tag"
  if [[ -s $KAFKA_DIR/data/meta.properties && $(cat "$KAFKA_DIR/format.stamp" 2>/dev/null) == "$stamp" ]]; then
    return 0
  fi
  if pid_of kafka >/dev/null; then kafka_stop; fi
  rm -rf "$KAFKA_DIR/data"
  local cid
  if [[ ! -s $KAFKA_DIR/cluster-id ]]; then
    # what `kafka-storage random-uuid` prints: 16 random bytes, base64url, no
    # padding (and, like Kafka's Uuid.randomUuid, never starting with '-')
    cid=-
    while [[ $cid == -* ]]; do
      cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    echo "$cid" >"$KAFKA_DIR/cluster-id"
  fi
  cid=$(<"$KAFKA_DIR/cluster-id")
  [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka: bad cluster id '$cid' in $KAFKA_DIR/cluster-id"
  local -a scram=()
  skipped kafka-sasl || scram=(--add-scram "$KAFKA_SASL_MECHANISM=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]")
  log "kafka: formatting storage (cluster id $cid${scram:+, SCRAM user $KAFKA_SASL_USER})"
  if ! java -cp "$(<"$KAFKA_CP_FILE")" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_PROPS" --standalone "${scram[@]}" \
    >>"$LOG_DIR/kafka-format.log" 2>&1; then
    tail -n 20 "$LOG_DIR/kafka-format.log" >&2 || true
    die "kafka: storage format failed; see $LOG_DIR/kafka-format.log"
  fi
  echo "$stamp" >"$KAFKA_DIR/format.stamp"
}

up_kafka() {
  local t0=$SECONDS
  mkdir -p "$KAFKA_DIR"
  local jm
  jm=$(java_major 2>/dev/null || echo 0)
  ((jm >= 17)) || die "kafka: Java 17+ is needed to run Kafka 4.x (found: ${jm})"
  kafka_classpath
  timed kafka-resolve $((SECONDS - t0))
  KAFKA_VERSION=$(tr ':' '\n' <"$KAFKA_CP_FILE" | sed -n 's|.*/kafka_2\.13-\([^/]*\)\.jar$|\1|p' | head -n 1)
  [[ -n $KAFKA_VERSION ]] || die "kafka: kafka_2.13 jar not found in the resolved classpath $KAFKA_CP_FILE"
  kafka_write_config
  kafka_format_if_needed
  local hash fresh=0
  hash=$(kafka_conf_hash)
  if ! { [[ $(cat "$RUN_DIR/kafka.hash" 2>/dev/null) == "$hash" ]] && pid_of kafka >/dev/null && kafka_probe &&
    log "kafka: reusing running broker (pid $(pid_of kafka))"; }; then
    kafka_stop
    kafka_start
    fresh=1
    if [[ -s $RUN_DIR/kafka.cds-pending ]]; then
      # first start with this classpath/JVM: dump the class-data archive now
      # (a clean stop writes it), so the tests' own stop/start stay fast
      log "kafka: one-time restart to save the class-data archive"
      kafka_stop
      kafka_start
    fi
  fi
  # SCRAM is checked when the broker was (re)started here; the probe is a JVM (~3s).
  if ((fresh)) && ! skipped kafka-sasl; then
    local t1=$SECONDS
    wait_ready kafka "$KAFKA_TIMEOUT" "$KAFKA_LOG" kafka_sasl_probe
    log "kafka: SCRAM ($KAFKA_SASL_MECHANISM) login as $KAFKA_SASL_USER works on 127.0.0.1:$KAFKA_SASL_PORT ($((SECONDS - t1))s)"
  fi
  local logged
  logged=$(grep -o 'Kafka version: [^ ]*' "$KAFKA_LOG" | tail -n 1 || true)
  log "kafka: Apache Kafka $KAFKA_VERSION (jar kafka_2.13-$KAFKA_VERSION.jar; server log: ${logged:-n/a})"
  ENV_LINES+=("WATERSHED_TEST_KAFKA=127.0.0.1:$KAFKA_PORT" "WATERSHED_TEST_KAFKA_VERSION=$KAFKA_VERSION")
  # the broker's classpath: the chaos suite (integration/chaos) runs a broker
  # of its own from it, to kill without disturbing the other tests
  ENV_LINES+=("WATERSHED_TEST_KAFKA_CLASSPATH_FILE=$KAFKA_CP_FILE")
  if ! skipped kafka-sasl; then
    ENV_LINES+=("WATERSHED_TEST_KAFKA_SASL=127.0.0.1:$KAFKA_SASL_PORT"
      "WATERSHED_TEST_KAFKA_SASL_USER=$KAFKA_SASL_USER"
      "WATERSHED_TEST_KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD"
      "WATERSHED_TEST_KAFKA_SASL_MECHANISM=$KAFKA_SASL_MECHANISM")
  fi
  timed kafka $((SECONDS - t0))
}

# ---------------------------------------------------------------- main ----
# Everything runs from main, so bash has parsed the whole file before any of it
# runs (editing this file while it runs cannot derail a run in progress).
main() {
  local T_START=$SECONDS t l
  set -E
  trap 'log "ERROR: up.sh failed at line $LINENO: $BASH_COMMAND (logs: $LOG_DIR)"' ERR
  take_lock
  mkdir -p "$LOG_DIR" "$RUN_DIR" "$CACHE_DIR"
  load_secrets
  ENV_LINES=("WATERSHED_TESTENV_STATE=$STATE_DIR" "WATERSHED_TESTENV_KAFKA_SH=$TESTENV_DIR/kafka.sh")

  # The versitygw build is the slowest cold step: run it alongside the rest.
  want s3 && versitygw_build_bg

  t=$SECONDS; install_packages; timed packages $((SECONDS - t))
  want redis && up_redis
  want mqtt && up_mqtt
  want smtp && up_smtp
  want kafka && up_kafka
  if want kcat || want kafka; then
    KCAT=$(kcat_bin) || die "kcat: not installed"
    want kcat && ENV_LINES+=("WATERSHED_TEST_KCAT=$KCAT")
  fi
  want s3 && up_s3
  # The console's browser tests drive Debian's chromium (headless, started by each test).
  if want chromium; then
    command -v chromium >/dev/null || die "chromium: not installed (package chromium)"
    ENV_LINES+=("WATERSHED_TEST_CHROMIUM=$(command -v chromium)")
  fi

  {
    echo "# generated by scripts/testenv/up.sh at $(date '+%F %T'); source it: . $ENV_FILE"
    for l in "${ENV_LINES[@]}"; do echo "export $l"; done
  } >"$ENV_FILE.tmp"
  chmod 600 "$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"

  timed total $((SECONDS - T_START))
  log "timings: ${TIMINGS[*]}"
  log "ready; env written to $ENV_FILE${WATERSHED_TESTENV_SKIP:+ (skipped: $WATERSHED_TESTENV_SKIP)}"
}

main "$@"
exit
