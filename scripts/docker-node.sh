#!/bin/sh
# Entrypoint of a node container (docker-compose.yml, docs/docker.md): on
# first start it runs `bikfed node init` with the one-time enrolment token
# the coordination team issued for this node, then, and on every later
# start, it runs the node. Arguments are passed to `bikfed node serve`.
#
#   BIKFED_HUB_URL           the hub, e.g. http://hub:8080 (required)
#   BIKFED_ENROL_TOKEN       the enrolment token
#   BIKFED_ENROL_TOKEN_FILE  or a file holding it (docker-enrol-token.sh
#                            writes one; waited for until it appears)
#
# A node is never given the hub's operator token: that token administers the
# whole network.
set -eu
: "${BIKFED_HUB_URL:?set BIKFED_HUB_URL}"
data=/data

if [ ! -f "$data/node.db" ]; then
	token=${BIKFED_ENROL_TOKEN:-}
	if [ -z "$token" ]; then
		file=${BIKFED_ENROL_TOKEN_FILE:?set BIKFED_ENROL_TOKEN or BIKFED_ENROL_TOKEN_FILE}
		until [ -s "$file" ]; do
			echo "waiting for an enrolment token in $file" >&2
			sleep 2
		done
		token=$(cat "$file")
	fi
	until curl -fsS "$BIKFED_HUB_URL/healthz" >/dev/null 2>&1; do
		echo "waiting for the hub at $BIKFED_HUB_URL" >&2
		sleep 2
	done
	# Through the environment rather than the command line, which any
	# process in the container can read.
	BIKFED_TOKEN=$token bikfed node init --data "$data" --hub "$BIKFED_HUB_URL"
fi
exec bikfed node serve --data "$data" "$@"
