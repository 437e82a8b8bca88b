#!/usr/bin/env bash
# Runs every module's Go benchmarks and rewrites the measured section of
# BENCHMARKS.md (between the bench:begin and bench:end markers) with the
# machine, the date and the raw `go test -bench` output per module.
#
#   scripts/bench.sh                  all modules, BENCHTIME (default 1x... see below)
#   BENCH='Publish|Consume' scripts/bench.sh rapids   one module, a filter
#
# Environment: BENCH (regexp, default .), BENCHTIME (default 2s), COUNT (default 1),
# WATERSHED_TEST_KAFKA / WATERSHED_TEST_REDIS (benchmarks against real servers
# run when these are set; `source scripts/testenv/.state/env` after up.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out="$root/.watershed/bench"
mkdir -p "$out"

if (($#)); then modules=("$@"); else
  mapfile -t modules < <(go list -m -f '{{.Dir}}' | sed "s|^$root/||")
fi

for mod in "${modules[@]}"; do
  grep -rlq --include='*_test.go' '^func Benchmark' "$mod" 2>/dev/null || continue
  echo "==> $mod"
  (cd "$mod" && go test -run='^$' -bench="${BENCH:-.}" -benchmem -benchtime="${BENCHTIME:-2s}" \
    -count="${COUNT:-1}" -timeout 30m ./...) 2>&1 | tee "$out/$(echo "$mod" | tr '/' '_').txt"
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
{
  echo "<!-- bench:begin -->"
  echo "Measured $(date -u +'%Y-%m-%d %H:%M UTC') on $(nproc) cores × ${cpu:-unknown CPU}, ${mem}, $(go version | awk '{print $3}'), $(uname -sr)."
  echo "Kafka for these runs: ${WATERSHED_TEST_KAFKA:+real Apache Kafka ${WATERSHED_TEST_KAFKA_VERSION:-} at $WATERSHED_TEST_KAFKA and }the embedded broker (franz-go kfake, in process)."
  echo
  for f in "$out"/*.txt; do
    mod=$(basename "$f" .txt | tr '_' '/')
    grep -qE '^Benchmark' "$f" || continue
    echo "### $mod"
    echo
    echo '```'
    grep -E '^(Benchmark|goos|goarch|cpu|pkg)' "$f"
    echo '```'
    echo
  done
  echo "<!-- bench:end -->"
} > "$out/section.md"

if [[ -f BENCHMARKS.md ]] && grep -q 'bench:begin' BENCHMARKS.md; then
  awk -v sec="$out/section.md" '
    /<!-- bench:begin -->/ { while ((getline l < sec) > 0) print l; skip=1; next }
    /<!-- bench:end -->/ { skip=0; next }
    !skip { print }' BENCHMARKS.md > "$out/BENCHMARKS.md" && mv "$out/BENCHMARKS.md" BENCHMARKS.md
else
  { echo "# Benchmarks"; echo; cat "$out/section.md"; } > BENCHMARKS.md
fi
echo "wrote BENCHMARKS.md"
