#!/bin/sh
# Entrypoint of a node container (docker-compose.yml, docs/docker.md): on
# first start it waits for the hub, obtains a one-time enrolment token from
# the hub's admin API with the operator token (or takes BIKFED_ENROL_TOKEN)
# and runs `bikfed node init`; then, and on every later start, it runs the
# node. Arguments are passed to `bikfed node serve`.
#
#   BIKFED_NODE_ID             the node id, e.g. be (required)
#   BIKFED_NODE_NAME           its display name (default: the id)
#   BIKFED_HUB_URL             the hub, e.g. http://hub:8080 (required)
#   BIKFED_HUB_OPERATOR_TOKEN  the hub's admin token, to register the node
#   BIKFED_ENROL_TOKEN         or a token the coordination team issued
set -eu
: "${BIKFED_NODE_ID:?set BIKFED_NODE_ID}"
: "${BIKFED_HUB_URL:?set BIKFED_HUB_URL}"
data=/data

if [ ! -f "$data/node.db" ]; then
	until curl -fsS "$BIKFED_HUB_URL/healthz" >/dev/null 2>&1; do
		echo "waiting for the hub at $BIKFED_HUB_URL" >&2
		sleep 2
	done
	token=${BIKFED_ENROL_TOKEN:-}
	if [ -z "$token" ]; then
		: "${BIKFED_HUB_OPERATOR_TOKEN:?set BIKFED_HUB_OPERATOR_TOKEN (the hub operator token) or BIKFED_ENROL_TOKEN}"
		body=$(printf '{"id":"%s","name":"%s"}' "$BIKFED_NODE_ID" "${BIKFED_NODE_NAME:-$BIKFED_NODE_ID}")
		resp=$(curl -fsS -X POST \
			-H "Authorization: Bearer $BIKFED_HUB_OPERATOR_TOKEN" \
			-H 'Content-Type: application/json' \
			--data "$body" "$BIKFED_HUB_URL/admin/v1/nodes")
		token=$(printf '%s' "$resp" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
		if [ -z "$token" ]; then
			echo "the hub gave no enrolment token: $resp" >&2
			exit 1
		fi
	fi
	bikfed node init --data "$data" --hub "$BIKFED_HUB_URL" --token "$token"
fi
exec bikfed node serve --data "$data" "$@"
