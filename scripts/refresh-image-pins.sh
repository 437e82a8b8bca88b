#!/usr/bin/env bash
# scripts/refresh-image-pins.sh — pin docker-compose.yml's base images by
# digest: each `image: <name>:${<X>_VERSION:-<tag>}` becomes
# `image: <name>:${<X>_VERSION:-<tag>@sha256:<digest>}`, and deploy/.env.example's
# <X>_VERSION the same, the digest being that of <tag>'s manifest (the
# multi-platform index where there is one) in its registry now.
#
#   scripts/refresh-image-pins.sh            # resolve every tag, rewrite both files
#   scripts/refresh-image-pins.sh --list     # offline: VARIABLE IMAGE TAG DIGEST|unpinned
#   scripts/refresh-image-pins.sh --check    # offline: fail when an image has no digest
#
# To move to a new version: set the tag in both files (without a digest),
# run this, review `git diff`, commit. An operator's .env overriding
# <X>_VERSION with a bare tag runs that tag unpinned.
#
# Needs, for the default mode only, network access to the registries and one
# of: crane (go-containerregistry), regctl, skopeo, or docker with buildx.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
compose=$root/docker-compose.yml
example=$root/deploy/.env.example
die() { echo "refresh-image-pins: $*" >&2; exit 1; }

# pins prints VARIABLE IMAGE TAG DIGEST (or "unpinned") per base image.
pins() {
  sed -nE 's/^[[:space:]]*image:[[:space:]]*([^$[:space:]]+):\$\{([A-Z0-9_]+_VERSION):-([^}@]+)(@(sha256:[0-9a-f]{64}))?\}[[:space:]]*$/\2 \1 \3 \5/p' "$compose" |
    awk '{ print $1, $2, $3, ($4 == "" ? "unpinned" : $4) }' | sort -u
}

# digest IMAGE:TAG prints the registry's digest of the tag's manifest.
digest() {
  local ref=$1
  if command -v crane >/dev/null; then
    crane digest "$ref"
  elif command -v regctl >/dev/null; then
    regctl image digest "$ref"
  elif command -v skopeo >/dev/null; then
    # the raw manifest: the index of a multi-platform image, not one platform's
    echo "sha256:$(skopeo inspect --raw "docker://$ref" | sha256sum | cut -d' ' -f1)"
  elif command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
    docker buildx imagetools inspect "$ref" --format '{{ .Manifest.Digest }}'
  else
    die "no registry tool: install crane (go install github.com/google/go-containerregistry/cmd/crane@latest), regctl, skopeo, or docker with buildx"
  fi
}

case ${1:-} in
  --list) pins; exit 0 ;;
  --check)
    unpinned=$(pins | awk '$4 == "unpinned" { print $2 ":" $3 }')
    [[ -z $unpinned ]] || die "pinned by tag only (run scripts/refresh-image-pins.sh where a registry answers): $(echo $unpinned)"
    echo "refresh-image-pins: every base image is pinned by digest"
    exit 0 ;;
  "") ;;
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
  *) die "unknown argument $1 (want --list, --check or nothing)" ;;
esac

list=$(pins)
[[ -n $list ]] || die "no \`image: <name>:\${X_VERSION:-tag}\` lines in $compose"
while read -r var image tag _; do
  d=$(digest "$image:$tag") || die "$image:$tag: the registry tool failed (network? tag gone?)"
  [[ $d =~ ^sha256:[0-9a-f]{64}$ ]] || die "$image:$tag: unexpected digest \"$d\""
  # Every line of this image's variable, pinned or not, gets the new digest.
  sed -i -E "s#(\\\$\\{$var:-)[^}@]+(@sha256:[0-9a-f]{64})?\\}#\\1$tag@$d}#g" "$compose"
  sed -i -E "s#^$var=.*#$var=$tag@$d#" "$example"
  echo "refresh-image-pins: $image:$tag@$d"
done <<<"$list"
echo "refresh-image-pins: review with git diff $compose $example"
