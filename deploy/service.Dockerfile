# syntax=docker/dockerfile:1.7
#
# The one image recipe of every Watershed service. Build context: the
# repository root.
#
#   docker buildx build -f deploy/service.Dockerfile \
#     --build-arg SERVICE=gap-detector -t watershed/gap-detector:dev .
#
# or scripts/build-images.sh [service...]. SERVICE names a folder under
# services/ (a Go module with a main.go); VERSION defaults to that module's
# line in modules.txt ("services/<name> vX.Y.Z") and is baked into the
# binary as rivers.versionStamp, which the service reports (rivers.Main).
# The service module builds on its own (GOWORK=off,
# its go.mod replaces the sibling modules by relative path), so an image
# depends on its module's go.sum only.
#
# Runtime: distroless static, non-root (65532), no shell. The healthcheck
# binary /usr/local/bin/probe (deploy/check/cmd/probe) GETs
# http://127.0.0.1:8080/readyz; compose runs it, Kubernetes uses httpGet.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG SERVICE
ARG VERSION=""
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build <<'SH'
set -eu
if [ -z "${SERVICE}" ]; then
  echo "service.Dockerfile: --build-arg SERVICE=<name> is required (a folder under services/)" >&2
  exit 1
fi
if [ ! -f "services/${SERVICE}/main.go" ]; then
  echo "service.Dockerfile: services/${SERVICE}/main.go not found: SERVICE must name a service module with a main package" >&2
  exit 1
fi
version="${VERSION}"
if [ -z "${version}" ]; then
  version="$(awk -v d="services/${SERVICE}" '$1 == d { print $2 }' modules.txt)"
fi
if [ -z "${version}" ]; then
  echo "service.Dockerfile: no version for services/${SERVICE}: add \"services/${SERVICE} vX.Y.Z\" to modules.txt or pass --build-arg VERSION=vX.Y.Z" >&2
  exit 1
fi
export CGO_ENABLED=0 GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-amd64}" GOWORK=off GOFLAGS=-buildvcs=false
mkdir -p /out
(cd "services/${SERVICE}" && go build -trimpath -ldflags "-s -w -X github.com/watershed-grid/watershed/rivers.versionStamp=${version}" -o /out/service .)
(cd deploy/check && go build -trimpath -ldflags "-s -w" -o /out/probe ./cmd/probe)
echo "${version}" > /out/VERSION
SH

FROM gcr.io/distroless/static-debian12:nonroot
ARG SERVICE
ARG VERSION=""
LABEL org.opencontainers.image.title="watershed-${SERVICE}" \
      org.opencontainers.image.source="https://github.com/watershed-grid/watershed" \
      org.opencontainers.image.description="Watershed service ${SERVICE}"
COPY --from=build /out/service /usr/local/bin/service
COPY --from=build /out/probe /usr/local/bin/probe
COPY --from=build /out/VERSION /etc/watershed/VERSION
ENV HTTP_ADDR=:8080 \
    LOG_FORMAT=json
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/service"]
