#!/usr/bin/env bash
# Tags Go modules <dir>/vX.Y.Z from modules.txt (one "<dir> <version>" per line).
# Every module is versioned on its own; the tag is what `go get` resolves.
#
#   scripts/tag-modules.sh           print the tags that would be created (dry run)
#   PUSH=1 scripts/tag-modules.sh    create the missing tags and push them
#   scripts/tag-modules.sh --check   fail unless modules.txt lists exactly the go.work modules
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
list=modules.txt

mapfile -t listed < <(grep -vE '^\s*(#|$)' "$list" | awk '{print $1}' | sort)
mapfile -t work < <(go list -m -f '{{.Dir}}' | sed "s|^$root/||" | sort)

if [[ "${1:-}" == "--check" ]]; then
  if [[ "${listed[*]}" != "${work[*]}" ]]; then
    echo "modules.txt and go.work disagree:"
    diff <(printf '%s\n' "${listed[@]}") <(printf '%s\n' "${work[@]}") | sed 's/^</  only in modules.txt:/; s/^>/  only in go.work:/' | grep only || true
    exit 1
  fi
  bad=$(grep -vE '^\s*(#|$)' "$list" | awk '$2 !~ /^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$/ {print $1" "$2}')
  if [[ -n "$bad" ]]; then echo "modules.txt: not a semantic version (want vX.Y.Z): $bad"; exit 1; fi
  echo "modules.txt lists the ${#work[@]} go.work modules"
  exit 0
fi

while read -r dir version; do
  [[ -z "$dir" || "$dir" == \#* ]] && continue
  tag="$dir/$version"
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
    echo "exists  $tag"
  elif [[ "${PUSH:-0}" == 1 ]]; then
    git tag -a "$tag" -m "$dir $version" && git push origin "$tag" && echo "tagged  $tag"
  else
    echo "would tag $tag"
  fi
done < "$list"
