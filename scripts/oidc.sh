#!/usr/bin/env bash
# Builds the OpenID Connect provider that internal/oidctest runs for the
# single sign-on tests: zitadel/oidc's example server, a complete provider
# with a login form, pinned to one release so that every machine and CI run
# tests against the same provider. The example's main listens on every
# interface; scripts/oidc/main.go is that main listening on 127.0.0.1, built
# against the pinned module (scripts/oidc/go.mod and go.sum). Builds only if
# the binary is missing, then prints its path.
#
#   scripts/oidc.sh            # -> $HOME/.cache/bikfed/oidc-v3.52.0-loopback/oidc-server
#   BIKFED_CACHE=/ci/cache scripts/oidc.sh
#
# The pin is also internal/oidctest.Version and the require in
# scripts/oidc/go.mod; change all three together. The directory is named
# after the pin and the wrapper (internal/oidctest.Build): change the
# wrapper's name when scripts/oidc changes, so that machines holding the
# old binary rebuild.
set -euo pipefail

version=v3.52.0
build=$version-loopback
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/oidc
dir=${BIKFED_CACHE:-$HOME/.cache/bikfed}/oidc-$build
bin=$dir/oidc-server

if [[ ! -x $bin ]]; then
	echo "building zitadel/oidc $version's example server, listening on loopback, into $dir (once)" >&2
	grep -qx "require github.com/zitadel/oidc/v3 $version" "$src/go.mod" ||
		{ echo "scripts/oidc/go.mod does not require github.com/zitadel/oidc/v3 $version" >&2; exit 1; }
	mkdir -p "$dir"
	# Built into a scratch directory and moved into place, so that an
	# interrupted build never leaves a binary that looks finished.
	scratch=$(mktemp -d "$dir/.build.XXXXXX")
	trap 'rm -rf "$scratch"' EXIT
	cp "$src/go.mod" "$src/go.sum" "$src/main.go" "$scratch/"
	# Outside bikfed's module, so that the repository's go.mod plays no part;
	# go.sum is read-only here, so every module is checked against it.
	(cd "$scratch" && GOWORK=off GOFLAGS=-buildvcs=false go build -mod=readonly -trimpath -o oidc-server .)
	mv "$scratch/oidc-server" "$bin"
fi
echo "$bin"
