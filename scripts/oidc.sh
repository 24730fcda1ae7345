#!/usr/bin/env bash
# Builds the OpenID Connect provider that internal/oidctest runs for the
# single sign-on tests: the example server of github.com/zitadel/oidc, a
# complete provider with a login form, pinned to one release so that every
# machine and CI run tests against the same provider. Builds only if the
# binary is missing, then prints its path.
#
#   scripts/oidc.sh            # -> $HOME/.cache/bikfed/oidc-v3.52.0/oidc-server
#   BIKFED_CACHE=/ci/cache scripts/oidc.sh
#
# The pin is also internal/oidctest.Version; change both together.
set -euo pipefail

version=v3.52.0
dir=${BIKFED_CACHE:-$HOME/.cache/bikfed}/oidc-$version
bin=$dir/oidc-server

if [[ ! -x $bin ]]; then
	echo "building github.com/zitadel/oidc/v3/example/server@$version into $dir (once)" >&2
	mkdir -p "$dir"
	# Built into a scratch directory and moved into place, so that an
	# interrupted build never leaves a binary that looks finished.
	scratch=$(mktemp -d "$dir/.build.XXXXXX")
	trap 'rm -rf "$scratch"' EXIT
	# Outside any module, so that the repository's go.mod plays no part.
	(cd "$scratch" && GOBIN=$scratch GOFLAGS=-buildvcs=false go install "github.com/zitadel/oidc/v3/example/server@$version")
	mv "$scratch/server" "$bin"
fi
echo "$bin"
