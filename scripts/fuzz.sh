#!/usr/bin/env bash
# Runs every Fuzz* target of the contracts module (its root package and its
# sub-packages, e.g. catalog's FuzzMeterReadingValidator) for FUZZTIME
# (default 30s). go test -fuzz takes one target in one package at a time.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
fuzztime=${FUZZTIME:-30s}
n=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  while IFS= read -r t; do
    echo "fuzz: $dir $t for $fuzztime"
    go test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzztime" "./${dir#./}"
    n=$((n + 1))
  done < <(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}' | sort -u)
done < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' . | sort)
if ((n == 0)); then echo "no fuzz targets in contracts/"; exit 1; fi
