#!/bin/sh
# Mirrors in containers (docker-compose.yml, docs/docker.md, docs/scale.md).
#
#   bikfed-mirror register NAME   on the coordination side: registers the
#                                 mirror with the hub and leaves its one-time
#                                 enrolment token, mode 0600, in /enrol/token,
#                                 a volume only that mirror mounts. A token
#                                 already there is left as it is.
#   bikfed-mirror [ARGS...]       the mirror: on first start it runs
#                                 `bikfed mirror init` with that token, then,
#                                 and on every later start, `bikfed mirror
#                                 serve --data /data ARGS...`.
#
#   BIKFED_HUB_URL             the hub, e.g. http://hub:8080 (required)
#   BIKFED_HUB_OPERATOR_TOKEN  register only: the hub's operator token
#   BIKFED_ENROL_TOKEN         the mirror: its enrolment token
#   BIKFED_ENROL_TOKEN_FILE    or a file holding it (waited for until it appears)
#
# A mirror is never given the hub's operator token: that token administers
# the whole network, and a mirror only reads public content.
set -eu
: "${BIKFED_HUB_URL:?set BIKFED_HUB_URL}"

wait_for_hub() {
	until curl -fsS "$BIKFED_HUB_URL/healthz" >/dev/null 2>&1; do
		echo "waiting for the hub at $BIKFED_HUB_URL" >&2
		sleep 2
	done
}

if [ "${1:-}" = register ]; then
	name=${2:?usage: bikfed-mirror register NAME}
	: "${BIKFED_HUB_OPERATOR_TOKEN:?set BIKFED_HUB_OPERATOR_TOKEN}"
	out=/enrol/token
	umask 077
	if [ -s "$out" ]; then
		echo "an enrolment token for mirror $name is already in $out"
		exit 0
	fi
	wait_for_hub
	# The operator token goes to curl on its standard input rather than
	# the command line, which any process in the container can read.
	resp=$(printf 'Authorization: Bearer %s\n' "$BIKFED_HUB_OPERATOR_TOKEN" |
		curl -fsS -X POST -H @- -H 'Content-Type: application/json' \
			--data "$(printf '{"name":"%s"}' "$name")" "$BIKFED_HUB_URL/admin/v1/mirrors")
	printf '%s' "$resp" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p' >"$out.tmp"
	if [ ! -s "$out.tmp" ]; then
		echo "the hub gave no enrolment token for mirror $name" >&2
		rm -f "$out.tmp"
		exit 1
	fi
	mv "$out.tmp" "$out"
	echo "enrolment token for mirror $name written to $out"
	exit 0
fi

data=/data
if [ ! -f "$data/mirror.json" ]; then
	token=${BIKFED_ENROL_TOKEN:-}
	if [ -z "$token" ]; then
		file=${BIKFED_ENROL_TOKEN_FILE:?set BIKFED_ENROL_TOKEN or BIKFED_ENROL_TOKEN_FILE}
		until [ -s "$file" ]; do
			echo "waiting for an enrolment token in $file" >&2
			sleep 2
		done
		token=$(cat "$file")
	fi
	wait_for_hub
	# Through the environment (--token's variable) rather than the command
	# line.
	BIKFED_TOKEN=$token bikfed mirror init --data "$data" --hub "$BIKFED_HUB_URL"
fi
# The token is spent; the hub URL is in mirror.json from here on.
unset BIKFED_ENROL_TOKEN BIKFED_HUB_OPERATOR_TOKEN
exec bikfed mirror serve --data "$data" "$@"
