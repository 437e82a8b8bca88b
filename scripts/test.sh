#!/usr/bin/env bash
# The README's test command (`make test`): starts the real servers the tests
# need (scripts/testenv/up.sh installs what is missing), then vets and
# race-tests every module of go.work, first through the workspace and then
# each module alone with GOWORK=off, then runs the fuzz targets briefly.
#
#   scripts/test.sh               everything (what CI runs)
#   scripts/test.sh --no-servers  no servers: integration tests skip and say why
#                                 (under CI=true they fail instead)
#   scripts/test.sh --reuse-servers  use the servers a previous scripts/testenv/up.sh
#                                 started and leave them running (quick local reruns)
#
# Environment: FUZZTIME (default 10s per target), GO_TEST_FLAGS (extra flags),
# WATERSHED_TESTENV_SKIP (comma list of servers not to start, see scripts/testenv).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
logs="$root/.watershed/test-logs"
mkdir -p "$logs"
rm -f "$logs"/*.log

servers=1
case "${1:-}" in
  --no-servers) servers=0 ;;
  --reuse-servers) servers=2 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--no-servers|--reuse-servers]" >&2; exit 2 ;;
esac

say() { printf '\n==> %s\n' "$*"; }

# python_env puts a venv with the analysts' tools (DuckDB) first on PATH: the
# ponds tests run the analysts' recipe with the python3 they find there.
python_env() {
  local venv=scripts/testenv/.state/venv req=ponds/analysts/requirements.txt
  say "python venv with $(grep -vE '^\s*(#|$)' "$req" | tr '\n' ' ')"
  if ! python3 -m venv --help >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv python3-pip >/dev/null
  fi
  [[ -x "$venv/bin/python3" ]] || python3 -m venv "$venv"
  if ! cmp -s "$req" "$venv/requirements.installed"; then
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check -r "$req" \
      || { echo "pip could not install $req (is PyPI reachable?)" >&2; exit 1; }
    cp "$req" "$venv/requirements.installed"
  fi
  PATH="$root/$venv/bin:$PATH"
  export PATH
}

if ((servers == 2)); then
  [[ -f scripts/testenv/.state/env ]] || { echo "--reuse-servers: no scripts/testenv/.state/env; run scripts/testenv/up.sh first" >&2; exit 2; }
  # shellcheck disable=SC1091
  source scripts/testenv/.state/env
  python_env
elif ((servers)); then
  say "starting real servers (scripts/testenv/up.sh)"
  trap 'scripts/testenv/down.sh >/dev/null 2>&1 || true' EXIT
  scripts/testenv/up.sh
  # shellcheck disable=SC1091
  source scripts/testenv/.state/env
  python_env
fi

# Modules in go.work order; the same list is checked against modules.txt.
mapfile -t modules < <(go list -m -f '{{.Dir}}' | sed "s|^$root/||")
say "modules: ${modules[*]}"

failed=()
run() { # run <label> <module> <command...>: log to a file, echo package lines
  local label=$1 mod=$2; shift 2
  local log="$logs/$(echo "$label-$mod" | tr '/' '_').log"
  if (cd "$mod" && "$@") >"$log" 2>&1; then
    grep -E '^(ok|FAIL|---|panic:)|no test files' "$log" | grep -v -- '--- PASS' | grep -v -- '--- SKIP' || true
  else
    grep -vE '^(=== RUN|=== PAUSE|=== CONT|    --- PASS|--- PASS)' "$log" | tail -60
    failed+=("$label $mod")
  fi
}

say "gofmt"
unformatted=$(git ls-files '*.go' | xargs -r gofmt -l)
if [[ -n "$unformatted" ]]; then echo "gofmt would change: $unformatted"; failed+=("gofmt"); fi

say "module list matches go.work"
if ! scripts/tag-modules.sh --check; then failed+=("modules.txt"); fi

for mod in "${modules[@]}"; do
  say "$mod: go vet + go test -race (go.work)"
  run vet "$mod" go vet ./...
  # shellcheck disable=SC2086
  run test "$mod" go test -race -count=1 -v -timeout 20m ${GO_TEST_FLAGS:-} ./...
done

for mod in "${modules[@]}"; do
  say "$mod: go vet + go test -race (GOWORK=off)"
  # The module alone must resolve every dependency from its own go.mod/go.sum.
  # Results the go.work pass already produced for identical inputs come from
  # Go's test cache; anything that builds differently alone runs again.
  run vet-alone "$mod" env GOWORK=off go vet ./...
  # shellcheck disable=SC2086
  run test-alone "$mod" env GOWORK=off go test -race -v -timeout 20m ${GO_TEST_FLAGS:-} ./...
done

say "fuzz targets (${FUZZTIME:-10s} each)"
if ! FUZZTIME=${FUZZTIME:-10s} scripts/fuzz.sh >"$logs/fuzz.log" 2>&1; then
  tail -40 "$logs/fuzz.log"; failed+=("fuzz")
else
  grep -E '^(ok|fuzz:.*elapsed)' "$logs/fuzz.log" | tail -10 || true
fi

# Count every test and subtest of the go.work pass (the GOWORK=off pass repeats them).
passed=$(cat "$logs"/test-*.log 2>/dev/null | grep -cE '^\s*--- PASS' || true)
fails=$(cat "$logs"/test-*.log 2>/dev/null | grep -cE '^\s*--- FAIL' || true)
skipped=$(cat "$logs"/test-*.log 2>/dev/null | grep -cE '^\s*--- SKIP' || true)
if ((skipped > 0)); then
  say "skipped tests and why"
  cat "$logs"/test-*.log | grep -A1 -E '^\s*--- SKIP' | grep -vE '^--$' | sed 's/^\s*//' | paste - - | sort | uniq | head -40
fi

say "summary (logs in .watershed/test-logs)"
if ((${#failed[@]})); then
  printf 'failed: %s\n' "${failed[@]}"
fi
echo "tests: $passed passed, $fails failed, $skipped skipped"
((${#failed[@]} == 0))
