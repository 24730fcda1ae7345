#!/usr/bin/env bash
# Builds the Caddy server that internal/caddytest runs as the load balancer
# in front of mirrors, and that the Docker image's caddy stage also builds,
# pinned to one release so that tests, CI and the compose setup run the same
# proxy. Builds only if the binary is missing, then prints its path.
#
#   scripts/caddy.sh            # -> $HOME/.cache/bikfed/caddy-v2.11.9/caddy
#   BIKFED_CACHE=/ci/cache scripts/caddy.sh
#
# The pin is also internal/caddytest.Version and the Dockerfile's caddy
# stage; change all three together.
set -euo pipefail

version=v2.11.9
dir=${BIKFED_CACHE:-$HOME/.cache/bikfed}/caddy-$version
bin=$dir/caddy

if [[ ! -x $bin ]]; then
	echo "building github.com/caddyserver/caddy/v2/cmd/caddy@$version into $dir (once; takes a minute or two)" >&2
	mkdir -p "$dir"
	# Built into a scratch directory and moved into place, so that an
	# interrupted build never leaves a binary that looks finished.
	scratch=$(mktemp -d "$dir/.build.XXXXXX")
	trap 'rm -rf "$scratch"' EXIT
	# Outside any module, so that the repository's go.mod plays no part.
	(cd "$scratch" && GOBIN=$scratch GOFLAGS=-buildvcs=false go install "github.com/caddyserver/caddy/v2/cmd/caddy@$version")
	mv "$scratch/caddy" "$bin"
fi
echo "$bin"
