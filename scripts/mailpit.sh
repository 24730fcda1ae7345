#!/usr/bin/env bash
# Builds the Mailpit SMTP server that internal/mailpittest runs for the mail
# tests, pinned to one release so that every machine and CI run tests against
# the same server. Builds only if the binary is missing, then prints its path.
#
#   scripts/mailpit.sh            # -> $HOME/.cache/bikfed/mailpit-v1.33.1/mailpit
#   BIKFED_CACHE=/ci/cache scripts/mailpit.sh
#
# The pin is also internal/mailpittest.Version; change both together.
set -euo pipefail

version=v1.33.1
dir=${BIKFED_CACHE:-$HOME/.cache/bikfed}/mailpit-$version
bin=$dir/mailpit

if [[ ! -x $bin ]]; then
	echo "building github.com/axllent/mailpit@$version into $dir (once; takes a minute)" >&2
	mkdir -p "$dir"
	# Built into a scratch directory and moved into place, so that an
	# interrupted build never leaves a binary that looks finished.
	scratch=$(mktemp -d "$dir/.build.XXXXXX")
	trap 'rm -rf "$scratch"' EXIT
	# Outside any module, so that the repository's go.mod plays no part.
	(cd "$scratch" && GOBIN=$scratch GOFLAGS=-buildvcs=false go install "github.com/axllent/mailpit@$version")
	mv "$scratch/mailpit" "$bin"
fi
echo "$bin"
