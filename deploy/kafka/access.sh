#!/usr/bin/env bash
# deploy/kafka/access.sh — who may do what on docker-compose's Kafka. The
# one-shot topics job runs it after creating the topics, as the broker's
# super user "admin" (SASL PLAIN, deploy/secrets/kafka-admin.properties), on
# every `docker compose up`: it is idempotent, and a rotated password
# (deploy/init-secrets.sh --force) takes effect here.
#
# For each "<principal> <password>" line of the users file (init-secrets.sh
# writes deploy/secrets/kafka-users: one principal per service, and
# "operator" for the CLI):
#   - a SCRAM-SHA-512 credential (created, or replaced);
#   - Read, Write and Describe on the four topics of the wire contract;
#   - Read and Describe on the consumer groups named after it (prefix: a
#     service's group is its name), for every principal but "operator"
#     (the CLI reads partitions directly and joins no group).
# Nobody but admin may create, delete or alter topics, ACLs or users: the
# broker runs StandardAuthorizer with allow.everyone.if.no.acl.found=false.
# A principal removed from the users file keeps its credential and ACLs
# until an operator deletes them (deploy/README.md, "Kafka").
#
# Environment: RAPIDS, RIVERS (topic names); KAFKA_BOOTSTRAP (default
# kafka:9092), KAFKA_ADMIN_CONFIG (default /run/secrets/kafka_admin),
# KAFKA_USERS_FILE (default /run/secrets/kafka_users), KAFKA_BIN (default
# /opt/kafka/bin, the apache/kafka image's scripts).
set -euo pipefail

bin=${KAFKA_BIN:-/opt/kafka/bin}
bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
admin=${KAFKA_ADMIN_CONFIG:-/run/secrets/kafka_admin}
users=${KAFKA_USERS_FILE:-/run/secrets/kafka_users}
: "${RAPIDS:?RAPIDS (the rapids topic) is not set}" "${RIVERS:?RIVERS (the rivers topic) is not set}"

acls() { "$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --command-config "$admin" --add "$@" >/dev/null; }

principals=()
while read -r name password _; do
  [[ -z ${name:-} || $name == \#* ]] && continue
  [[ -n ${password:-} ]] || { echo "access: $users: no password for $name" >&2; exit 1; }
  "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --command-config "$admin" --alter \
    --entity-type users --entity-name "$name" --add-config "SCRAM-SHA-512=[password=$password]" >/dev/null
  principals+=(--allow-principal "User:$name")
  if [[ $name != operator ]]; then
    acls --allow-principal "User:$name" --operation Read --operation Describe \
      --resource-pattern-type prefixed --group "$name"
  fi
  echo "access: principal $name"
done <"$users"
((${#principals[@]})) || { echo "access: $users lists no principal" >&2; exit 1; }

acls "${principals[@]}" --operation Read --operation Write --operation Describe \
  --topic "$RAPIDS" --topic "$RIVERS" --topic "$RAPIDS.dlq" --topic "$RIVERS.dlq"
"$bin/kafka-acls.sh" --bootstrap-server "$bootstrap" --command-config "$admin" --list
