#!/usr/bin/env bash
# The pipeline against its yardstick, in the same run: BenchmarkPipeline/max
# (the five stage-1/2 services on the embedded broker, in process) and
# ../shared/perf/rawpipe (plain kafka-go in the same shape), interleaved
# ROUNDS times, then BenchmarkPipeline/paced at half the measured maximum.
# It rewrites the pipeline section of BENCHMARKS.md (between the
# pipeline:begin and pipeline:end markers) with the machine, the date, every
# round and the ratio of the medians. Absolute figures on a shared machine
# move from run to run; the ratio in one run is the figure to quote.
#
#   scripts/bench-pipeline.sh             (make bench-pipeline)
#   ROUNDS=5 scripts/bench-pipeline.sh
#
# Environment: ROUNDS (default 3), WATERSHED_SHARED (default ../shared beside
# the repository), WATERSHED_TEST_KAFKA (when set, `max` is also run against
# that real Kafka: `source scripts/testenv/.state/env` after up.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
shared=${WATERSHED_SHARED:-$root/../shared}
rawdir="$shared/perf/rawpipe"
rounds=${ROUNDS:-3}
out="$root/.watershed/bench/pipeline"
mkdir -p "$out"
if [[ ! -f "$rawdir/main.go" ]]; then
  echo "bench-pipeline: the yardstick is missing: no $rawdir/main.go (set WATERSHED_SHARED to the shared/ folder)" >&2
  exit 2
fi

echo "==> building the pipeline benchmark and rawpipe"
(cd cmd/watershed && go test -c -o "$out/ecosystem.test" ./internal/ecosystem)
(cd "$rawdir" && GOWORK=off go build -o "$out/rawpipe" .)
readings=201011 # what BenchmarkPipeline/max publishes: 10,000 meters × 20 intervals, with its faults

metric() { # metric NAME < benchmark output: the value before NAME
  awk -v m="$1" '/^Benchmark/ { for (i = 2; i <= NF; i++) if ($i == m) print $(i-1) }' | tail -1
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'; }

eco_max=() raw=() p99max=()
for r in $(seq 1 "$rounds"); do
  echo "==> round $r/$rounds: BenchmarkPipeline/max"
  (cd cmd/watershed/internal/ecosystem && env -u WATERSHED_TEST_KAFKA "$out/ecosystem.test" \
    -test.run '^$' -test.bench 'Pipeline/max$' -test.benchtime 1x -test.timeout 30m) > "$out/max-$r.txt" 2>&1 ||
    { tail -20 "$out/max-$r.txt" >&2; exit 1; }
  eco_max+=("$(metric reads/s < "$out/max-$r.txt")")
  p99max+=("$(metric p99-ms < "$out/max-$r.txt")")
  echo "    ${eco_max[-1]} reads/s"
  echo "==> round $r/$rounds: rawpipe -n $readings -groups 5"
  "$out/rawpipe" -n "$readings" -groups 5 > "$out/raw-$r.txt" 2>&1 || { cat "$out/raw-$r.txt" >&2; exit 1; }
  raw+=("$(awk '/readings\/s/ { print $(NF-1) }' "$out/raw-$r.txt")")
  echo "    ${raw[-1]} readings/s"
done
eco_med=$(printf '%s\n' "${eco_max[@]}" | median)
raw_med=$(printf '%s\n' "${raw[@]}" | median)
ratio=$(awk -v a="$eco_med" -v b="$raw_med" 'BEGIN { printf "%.2f", a / b }')

paced=$(awk -v a="$eco_med" 'BEGIN { printf "%d", a / 2 }')
echo "==> BenchmarkPipeline/paced at $paced readings/s (half the median max)"
(cd cmd/watershed/internal/ecosystem && env -u WATERSHED_TEST_KAFKA PIPELINE_PACED_READS="$paced" "$out/ecosystem.test" \
  -test.run '^$' -test.bench 'Pipeline/paced$' -test.benchtime 1x -test.timeout 30m) > "$out/paced.txt" 2>&1 ||
  { tail -20 "$out/paced.txt" >&2; exit 1; }

real_line=""
if [[ -n "${WATERSHED_TEST_KAFKA:-}" ]]; then
  echo "==> BenchmarkPipeline/max on real Kafka at $WATERSHED_TEST_KAFKA"
  (cd cmd/watershed/internal/ecosystem && "$out/ecosystem.test" \
    -test.run '^$' -test.bench 'Pipeline/max$' -test.benchtime 1x -test.timeout 30m) > "$out/max-kafka.txt" 2>&1 ||
    { tail -20 "$out/max-kafka.txt" >&2; exit 1; }
  real_line="| \`max\` on real Apache Kafka ${WATERSHED_TEST_KAFKA_VERSION:-} | $(metric reads/s < "$out/max-kafka.txt") reads/s | p50 $(metric p50-ms < "$out/max-kafka.txt") ms, p99 $(metric p99-ms < "$out/max-kafka.txt") ms |"
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
{
  echo "<!-- pipeline:begin -->"
  echo "Measured $(date -u +'%Y-%m-%d %H:%M UTC') by \`make bench-pipeline\` on $(nproc) cores × ${cpu:-unknown CPU}, ${mem}, $(go version | awk '{print $3}'); load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| round | \`BenchmarkPipeline/max\` reads/s | p99 (saturated) | rawpipe readings/s | ratio |"
  echo "|---|---|---|---|---|"
  for i in "${!raw[@]}"; do
    echo "| $((i+1)) | ${eco_max[$i]} | ${p99max[$i]} ms | ${raw[$i]} | $(awk -v a="${eco_max[$i]}" -v b="${raw[$i]}" 'BEGIN { printf "%.2f", a / b }')× |"
  done
  echo "| **median** | **$eco_med** | | **$raw_med** | **${ratio}×** |"
  echo
  echo "| run | throughput | latency (publication → derived river event read back) |"
  echo "|---|---|---|"
  echo "| \`paced\` at $paced readings/s (half the median max) | $(metric reads/s < "$out/paced.txt") reads/s | p50 $(metric p50-ms < "$out/paced.txt") ms, **p99 $(metric p99-ms < "$out/paced.txt") ms** |"
  [[ -n "$real_line" ]] && echo "$real_line"
  echo "<!-- pipeline:end -->"
} > "$out/section.md"

if grep -q 'pipeline:begin' BENCHMARKS.md; then
  awk -v sec="$out/section.md" '
    /<!-- pipeline:begin -->/ { while ((getline l < sec) > 0) print l; skip=1; next }
    /<!-- pipeline:end -->/ { skip=0; next }
    !skip { print }' BENCHMARKS.md > "$out/BENCHMARKS.md" && mv "$out/BENCHMARKS.md" BENCHMARKS.md
else
  { echo; echo "## The pipeline against its yardstick"; echo; cat "$out/section.md"; } >> BENCHMARKS.md
fi
cat "$out/section.md"
echo "wrote BENCHMARKS.md (ratio ${ratio}×)"
