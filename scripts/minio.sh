#!/usr/bin/env bash
# Builds the MinIO server that internal/miniotest runs for the S3 blob store
# tests, pinned to one commit so that every machine and CI run tests against
# the same server. Builds only if the binary is missing, then prints its path.
#
#   scripts/minio.sh            # -> $HOME/.cache/bikfed/minio-7aac2a2c5b7c/minio
#   BIKFED_CACHE=/ci/cache scripts/minio.sh
#
# The pin is also internal/miniotest.Commit; change both together.
set -euo pipefail

version=v0.0.0-20260212201848-7aac2a2c5b7c
short=${version##*-}
dir=${BIKFED_CACHE:-$HOME/.cache/bikfed}/minio-$short
bin=$dir/minio

if [[ ! -x $bin ]]; then
	echo "building github.com/minio/minio@$version into $dir (once; takes a few minutes)" >&2
	mkdir -p "$dir"
	# Built into a scratch directory and moved into place, so that an
	# interrupted build never leaves a binary that looks finished.
	scratch=$(mktemp -d "$dir/.build.XXXXXX")
	trap 'rm -rf "$scratch"' EXIT
	# Outside any module, so that the repository's go.mod plays no part.
	(cd "$scratch" && GOBIN=$scratch GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$version")
	mv "$scratch/minio" "$bin"
fi
echo "$bin"
