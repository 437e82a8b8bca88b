#!/usr/bin/env bash
# Runs every Fuzz* target of the contracts module for FUZZTIME (default 30s).
# go test -fuzz takes one target in one package at a time.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
fuzztime=${FUZZTIME:-30s}
mapfile -t targets < <(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' ./*_test.go | awk '{print $2}' | sort -u)
if ((${#targets[@]} == 0)); then echo "no fuzz targets in contracts/"; exit 1; fi
for t in "${targets[@]}"; do
  echo "fuzz: $t for $fuzztime"
  go test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzztime" .
done
