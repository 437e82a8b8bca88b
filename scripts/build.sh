#!/usr/bin/env bash
# Builds the watershed CLI and every service into ./bin, each with its
# version from modules.txt baked in (-X ...rivers.versionStamp), as the images do.
#
#   scripts/build.sh                 everything
#   scripts/build.sh gap-detector    some services (names under services/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p bin

version_of() { awk -v d="$1" '$1 == d {print $2}' modules.txt; }

build() { # build <module dir> <binary name>
  local dir=$1 name=$2 v
  v=$(version_of "$dir")
  [[ -n "$v" ]] || { echo "modules.txt has no version for $dir" >&2; exit 1; }
  local x="-X github.com/watershed-grid/watershed/rivers.versionStamp=$v"
  [[ "$dir" == cmd/watershed ]] && x="" # the CLI reports its module version from build info
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $x" -o "$root/bin/$name" .)
  echo "bin/$name $v"
}

if (($#)); then
  for s in "$@"; do
    [[ -f "services/$s/main.go" ]] || { echo "no service $s (services/$s/main.go)" >&2; exit 1; }
    build "services/$s" "$s"
  done
  exit 0
fi
build cmd/watershed watershed
for main in services/*/main.go; do
  dir=$(dirname "$main")
  build "$dir" "$(basename "$dir")"
done
