#!/usr/bin/env bash
# deploy/init-secrets.sh — generate the random credentials docker-compose.yml
# reads, once per host. Nothing here is committed (deploy/.gitignore).
#
#   deploy/init-secrets.sh            # create what is missing, keep the rest
#   deploy/init-secrets.sh --force    # rotate: new credentials for everything
#                                     # (then: docker compose up -d --force-recreate)
#
# WATERSHED_SECRETS_DIR overrides the directory (default deploy/secrets next
# to this script); docker-compose.yml reads the same variable.
#
# Files (the directory is 0700; files mounted into containers as compose
# secrets are 0644 because compose bind-mounts them with the host's owner
# and the servers run as their own non-root users; env files read only by
# the compose CLI are 0600):
#   redis.acl       Redis ACL: default user off, user "watershed" (sha256 of its password),
#                   read-only user "analyst" (ws:meter:*, ws:transformer:*, ws:feeder:*)
#   redis-analyst.env  REDIS_USERNAME=analyst and its REDIS_PASSWORD, for analysts' tools
#   redis_password  the watershed user's password, for the Redis healthcheck
#   redis.env       REDIS_USERNAME, REDIS_PASSWORD             (services using Redis)
#   s3-root.env     ROOT_ACCESS_KEY, ROOT_SECRET_KEY           (versitygw)
#   s3.env          AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   (services using the object store)
#   mqtt_passwd     "watershed:<password>", hashed by mosquitto_passwd -U at start
#   mqtt.env        MQTT_USERNAME, MQTT_PASSWORD               (mqtt-gateway)
#   console.env     CONSOLE_SESSION_KEY, and CONSOLE_USERS with user "operator"
#                   when htpasswd (apache2-utils) is installed; else add users
#                   (name:role:bcrypt-hash, see services/console/README.md)
#   console_password  the console operator's password (with htpasswd)
#   hotpond-api.env     HOTPOND_API_TOKEN: the hot pond's read API token (hot-pond; analysts send it)
#   console-hotpond.env CONSOLE_HOTPOND_TOKEN: the same token, for the console
#   insights-api.env    INSIGHTS_API_TOKEN: usage-insights' API token (customer portals send it)
#   kafka_jaas      the broker's JAAS file: the "admin" principal (SASL PLAIN, the
#                   broker itself and the topics job) and SCRAM for everyone else
#   kafka-admin.properties  client settings of the admin principal (topics job,
#                   the broker's healthcheck, kafka-*.sh by hand)
#   kafka-users     "<principal> <password>" per line: the SCRAM-SHA-512 users the
#                   topics job creates (one per service, and "operator")
#   kafka-<service>.env  KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD
#                   (each service's own principal)
#   kafka-cli.env   the same for the operator's CLI (watershed tap/dlq, kcat) on
#                   the host listener
#   control-<signer>.pem  Ed25519 keys (PKCS#8 PEM) of the control events' publishers:
#                   demand-tracker, command-dispatcher (mounted into that service
#                   only) and operator (for `watershed publish --control-key`)
#   control-trust   who may publish which control event (CONTROL_TRUST_FILE, every service)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${WATERSHED_SECRETS_DIR:-$here/secrets}
force=false
case ${1:-} in
  "") ;;
  --force) force=true ;;
  -h|--help) sed -n '2,41p' "$0"; exit 0 ;;
  *) echo "init-secrets: unknown argument $1 (want --force or nothing)" >&2; exit 2 ;;
esac

command -v sha256sum >/dev/null || { echo "init-secrets: sha256sum not found (coreutils)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "init-secrets: openssl not found (the control events' Ed25519 keys)" >&2; exit 1; }

# rand N: N random bytes as lower-case hex (2N characters).
rand() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

umask 077
mkdir -p "$dir"
chmod 700 "$dir"

# put NAME MODE: write stdin to NAME unless it exists (and not --force).
put() {
  local f=$dir/$1 mode=$2
  if [[ -e $f && $force == false ]]; then
    cat >/dev/null
    echo "init-secrets: keeping $f"
    return
  fi
  cat >"$f.tmp"
  chmod "$mode" "$f.tmp"
  mv -f "$f.tmp" "$f"
  echo "init-secrets: wrote $f"
}

have() { [[ -e $dir/$1 && $force == false ]]; }

# Redis: one ACL user for the services; keys under ws:* only, no admin or
# dangerous commands. And a read-only user "analyst" for the hot pond's
# readings and views (%R~: read only; no ws:seen or ws:checkpoint values).
# The Redis files share their passwords, so they are regenerated together.
if ! have redis.acl || ! have redis_password || ! have redis.env || ! have redis-analyst.env; then
  force_redis=$force; force=true
  redis_pw=$(rand 24) analyst_pw=$(rand 24)
  redis_hash=$(printf '%s' "$redis_pw" | sha256sum | cut -d' ' -f1)
  analyst_hash=$(printf '%s' "$analyst_pw" | sha256sum | cut -d' ' -f1)
  put redis.acl 644 <<ACL
user default off
user watershed on #$redis_hash ~ws:* resetchannels -@all +@read +@write +@keyspace +@scripting +@connection +@transaction -@dangerous
user analyst on #$analyst_hash resetchannels -@all %R~ws:meter:* %R~ws:transformer:* %R~ws:feeder:* +@read +@connection -@dangerous
ACL
  printf '%s' "$redis_pw" | put redis_password 644
  printf 'REDIS_USERNAME=watershed\nREDIS_PASSWORD=%s\n' "$redis_pw" | put redis.env 600
  printf 'REDIS_USERNAME=analyst\nREDIS_PASSWORD=%s\n' "$analyst_pw" | put redis-analyst.env 600
  force=$force_redis
fi

# Object store (versitygw root account; the services use the same keys).
if ! have s3-root.env || ! have s3.env; then
  force_s3=$force; force=true
  access=$(rand 10) secret=$(rand 20)
  printf 'ROOT_ACCESS_KEY=%s\nROOT_SECRET_KEY=%s\n' "$access" "$secret" | put s3-root.env 600
  printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$access" "$secret" | put s3.env 600
  force=$force_s3
fi

# MQTT (Mosquitto password file and the gateway's credentials).
if ! have mqtt_passwd || ! have mqtt.env; then
  force_mqtt=$force; force=true
  mqtt_pw=$(rand 24)
  printf 'watershed:%s\n' "$mqtt_pw" | put mqtt_passwd 644
  printf 'MQTT_USERNAME=watershed\nMQTT_PASSWORD=%s\n' "$mqtt_pw" | put mqtt.env 600
  force=$force_mqtt
fi

# Console: the session key, and an operator when a bcrypt tool is here.
if ! have console.env; then
  key=$(rand 32)
  if command -v htpasswd >/dev/null; then
    console_pw=$(rand 12)
    hash=$(htpasswd -nbBC 10 "" "$console_pw" | tr -d ':\n')
    printf '%s\n' "$console_pw" | put console_password 600
    # single quotes: compose does not interpolate the hash's $
    printf "CONSOLE_SESSION_KEY=%s\nCONSOLE_USERS='operator:operator:%s'\n" "$key" "$hash" | put console.env 600
  else
    printf '# No htpasswd here: add CONSOLE_USERS=%s (see services/console/README.md)\nCONSOLE_SESSION_KEY=%s\n' \
      "'name:operator:<bcrypt hash>'" "$key" | put console.env 600
    echo "init-secrets: htpasswd not found: add CONSOLE_USERS to $dir/console.env before starting the console" >&2
  fi
fi

# The hot pond's read API: one bearer token, for hot-pond and the console.
if ! have hotpond-api.env || ! have console-hotpond.env; then
  force_hot=$force; force=true
  token=$(rand 32)
  printf 'HOTPOND_API_TOKEN=%s\n' "$token" | put hotpond-api.env 600
  printf 'CONSOLE_HOTPOND_TOKEN=%s\n' "$token" | put console-hotpond.env 600
  force=$force_hot
fi

# usage-insights' API (insights, and preferences that command meters): its token.
if ! have insights-api.env; then
  printf 'INSIGHTS_API_TOKEN=%s\n' "$(rand 32)" | put insights-api.env 600
fi

# Kafka: SASL on every listener but the broker's own controller listener.
# One SCRAM-SHA-512 principal per service (the topics job creates them and
# their ACLs: deploy/kafka/access.sh), "operator" for the CLI on the host
# listener, and "admin" (SASL PLAIN from the JAAS file, a super user) for
# the broker and the topics job. The Kafka files share their passwords, so
# they are regenerated together.
kafka_services=(meter-simulator mqtt-gateway reading-validator gap-detector
  usage-aggregator feeder-aggregator outage-detector hot-pond raw-archiver
  river-archiver heartbeat-monitor registry demand-tracker clock-watch
  dlq-replayer command-dispatcher alert-router console usage-insights load-forecaster billing-estimator)
kafka_ok=true
for f in kafka_jaas kafka-admin.properties kafka-users kafka-cli.env; do have "$f" || kafka_ok=false; done
for s in "${kafka_services[@]}"; do have "kafka-$s.env" || kafka_ok=false; done
if [[ $kafka_ok == false ]]; then
  force_kafka=$force; force=true
  admin_pw=$(rand 24)
  put kafka_jaas 644 <<JAAS
KafkaServer {
  org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin" password="$admin_pw" user_admin="$admin_pw";
  org.apache.kafka.common.security.scram.ScramLoginModule required;
};
JAAS
  put kafka-admin.properties 644 <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin_pw";
PROPS
  users=""
  for s in "${kafka_services[@]}" operator; do
    pw=$(rand 24)
    users+="$s $pw"$'\n'
    env=kafka-$s.env
    [[ $s == operator ]] && env=kafka-cli.env
    printf 'KAFKA_SASL_MECHANISM=SCRAM-SHA-512\nKAFKA_SASL_USERNAME=%s\nKAFKA_SASL_PASSWORD=%s\n' "$s" "$pw" | put "$env" 600
  done
  printf '%s' "$users" | put kafka-users 644
  force=$force_kafka
fi

# Control events (rivers/README.md, "Control events"): each publisher's
# Ed25519 key and the trust list every service verifies against. The trust
# list is rewritten from the keys whenever one is made, so a new key is
# trusted at once and a removed one no longer is.
declare -A control_types=(
  [demand-tracker]=system.retirement.v1
  [command-dispatcher]=meter.command.v1
  [operator]=meter.command.requested.v1,system.retirement.v1,simulator.fault.v1
  [usage-insights]=meter.command.requested.v1
)
control_new=false
for s in command-dispatcher demand-tracker operator usage-insights; do
  if ! have "control-$s.pem"; then
    # the services' keys are mounted into containers (uid 65532): 0644 like the
    # other mounted secrets; the operator's stays 0600 (the CLI on this host)
    mode=644; [[ $s == operator ]] && mode=600
    openssl genpkey -algorithm ed25519 | put "control-$s.pem" "$mode"
    control_new=true
  fi
done
if [[ $control_new == true ]] || ! have control-trust; then
  force_control=$force; force=true
  {
    echo "# Who may publish control events (CONTROL_TRUST_FILE): key id, types, public key (PKIX DER, base64)."
    for s in command-dispatcher demand-tracker operator usage-insights; do
      printf '%s %s %s\n' "$s" "${control_types[$s]}" \
        "$(openssl pkey -in "$dir/control-$s.pem" -pubout -outform DER | base64 -w0)"
    done
  } | put control-trust 644
  force=$force_control
fi

echo "init-secrets: done; secrets in $dir"
