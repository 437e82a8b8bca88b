#!/usr/bin/env bash
# scripts/helm-check.sh — run the real helm CLI over helm/watershed:
# lint --strict and template with the default and the CI values.
#
#   scripts/helm-check.sh              # uses helm from PATH
#   scripts/helm-check.sh --install    # no helm? go install it into a cache dir (~90 s)
#
# CI relies on deploy/check's Go tests (Helm's SDK, the same code); this is
# for operators and chart authors with a helm binary at hand.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
chart=$root/helm/watershed
HELM_VERSION=${HELM_VERSION:-v3.22.0}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/watershed-helm/$HELM_VERSION

helm=$(command -v helm || true)
if [[ -z $helm && -x $cache/helm ]]; then helm=$cache/helm; fi
if [[ -z $helm ]]; then
  if [[ ${1:-} != --install ]]; then
    echo "helm-check: helm not found; rerun with --install to build $HELM_VERSION with go install into $cache" >&2
    exit 1
  fi
  command -v go >/dev/null || { echo "helm-check: go not found: needed to build helm" >&2; exit 1; }
  echo "helm-check: go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION -> $cache"
  GOBIN=$cache go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  helm=$cache/helm
fi

echo "helm-check: $("$helm" version --short)"
for values in "" "$chart/ci-values.yaml"; do
  args=()
  [[ -n $values ]] && args=(-f "$values")
  echo "helm-check: lint --strict ${values:-(defaults)}"
  "$helm" lint --strict "$chart" "${args[@]}"
  echo "helm-check: template ${values:-(defaults)}"
  "$helm" template watershed "$chart" --namespace watershed --kube-version 1.33.0 "${args[@]}" >/dev/null
done
echo "helm-check: ok"
