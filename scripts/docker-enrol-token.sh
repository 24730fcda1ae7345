#!/bin/sh
# One-shot container on the coordination side (docker-compose.yml,
# docs/docker.md): registers one node with the hub's admin API and leaves its
# one-time enrolment token, mode 0600, in /enrol/token, a volume that only
# that node's container mounts. The operator token stays on this side; the
# node never sees it. A token already issued is left as it is.
#
#   BIKFED_NODE_ID             the node id, e.g. be (required)
#   BIKFED_NODE_NAME           its display name (default: the id)
#   BIKFED_HUB_URL             the hub, e.g. http://hub:8080 (required)
#   BIKFED_HUB_OPERATOR_TOKEN  the hub's operator token (required)
set -eu
: "${BIKFED_NODE_ID:?set BIKFED_NODE_ID}"
: "${BIKFED_HUB_URL:?set BIKFED_HUB_URL}"
: "${BIKFED_HUB_OPERATOR_TOKEN:?set BIKFED_HUB_OPERATOR_TOKEN}"
out=/enrol/token
umask 077

if [ -s "$out" ]; then
	echo "an enrolment token for $BIKFED_NODE_ID is already in $out"
	exit 0
fi
until curl -fsS "$BIKFED_HUB_URL/healthz" >/dev/null 2>&1; do
	echo "waiting for the hub at $BIKFED_HUB_URL" >&2
	sleep 2
done
body=$(printf '{"id":"%s","name":"%s"}' "$BIKFED_NODE_ID" "${BIKFED_NODE_NAME:-$BIKFED_NODE_ID}")
# The header comes from standard input so that the operator token is on no
# command line.
resp=$(printf 'Authorization: Bearer %s\n' "$BIKFED_HUB_OPERATOR_TOKEN" |
	curl -fsS -X POST -H @- -H 'Content-Type: application/json' \
		--data "$body" "$BIKFED_HUB_URL/admin/v1/nodes")
token=$(printf '%s' "$resp" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
if [ -z "$token" ]; then
	echo "the hub gave no enrolment token for $BIKFED_NODE_ID" >&2
	exit 1
fi
printf '%s\n' "$token" >"$out.tmp"
mv "$out.tmp" "$out"
echo "enrolment token for $BIKFED_NODE_ID written to $out"
