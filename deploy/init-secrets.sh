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
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${WATERSHED_SECRETS_DIR:-$here/secrets}
force=false
case ${1:-} in
  "") ;;
  --force) force=true ;;
  -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
  *) echo "init-secrets: unknown argument $1 (want --force or nothing)" >&2; exit 2 ;;
esac

command -v sha256sum >/dev/null || { echo "init-secrets: sha256sum not found (coreutils)" >&2; exit 1; }

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

echo "init-secrets: done; secrets in $dir"
