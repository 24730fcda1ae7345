# syntax=docker/dockerfile:1
#
# bikfed: one image for the hub, the nodes and the mirrors (docs/docker.md).
#
#   docker build -t bikfed .                 # the bikfed image (default target)
#   docker build -t bikfed-minio --target minio .
#   docker build -t bikfed-caddy --target caddy .
#
# The minio and caddy targets build the MinIO server and the Caddy load
# balancer the tests run against, pinned to the same versions as
# scripts/minio.sh and scripts/caddy.sh, for docker-compose.yml.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Pure Go (modernc SQLite): a static binary that runs on any base.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/bikfed ./cmd/bikfed

FROM golang:${GO_VERSION} AS minio-build
# Keep in step with scripts/minio.sh and internal/miniotest.Commit.
ARG MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
RUN CGO_ENABLED=0 GOBIN=/out GOFLAGS=-buildvcs=false go install "github.com/minio/minio@${MINIO_VERSION}"

FROM debian:bookworm-slim AS minio
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10002 --home-dir /data --shell /usr/sbin/nologin minio \
 && mkdir -p /data && chown minio:minio /data
COPY --from=minio-build /out/minio /usr/local/bin/minio
USER minio
VOLUME /data
EXPOSE 9000 9001
ENTRYPOINT ["minio"]
CMD ["server", "/data", "--address", ":9000", "--console-address", ":9001"]

FROM golang:${GO_VERSION} AS caddy-build
# Keep in step with scripts/caddy.sh and internal/caddytest.Version.
ARG CADDY_VERSION=v2.11.9
RUN CGO_ENABLED=0 GOBIN=/out GOFLAGS=-buildvcs=false go install "github.com/caddyserver/caddy/v2/cmd/caddy@${CADDY_VERSION}"

FROM debian:bookworm-slim AS caddy
# The load balancer in front of the mirrors (docs/scale.md). Its data and
# configuration directories (certificates, autosaved config) are in /data.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10003 --home-dir /data --shell /usr/sbin/nologin caddy \
 && install -d -o caddy -g caddy -m 0700 /data
COPY --from=caddy-build /out/caddy /usr/local/bin/caddy
COPY docs/Caddyfile /etc/caddy/Caddyfile
ENV XDG_DATA_HOME=/data XDG_CONFIG_HOME=/data
USER caddy
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["caddy"]
CMD ["run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]

FROM debian:bookworm-slim AS bikfed
# curl: health checks and the enrolment token's registration request.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin bikfed \
 && install -d -o bikfed -g bikfed -m 0700 /data /enrol
# 0700: a named volume mounted on /data or /enrol starts with these modes, so
# the databases, keys and tokens are not in a directory other users can list.
COPY --from=build /out/bikfed /usr/local/bin/bikfed
COPY scripts/docker-node.sh /usr/local/bin/bikfed-node
COPY scripts/docker-enrol-token.sh /usr/local/bin/bikfed-enrol-token
COPY scripts/docker-mirror.sh /usr/local/bin/bikfed-mirror
USER bikfed
WORKDIR /data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["bikfed"]
CMD ["hub", "serve", "--data", "/data", "--listen", "0.0.0.0:8080"]
