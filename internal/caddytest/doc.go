// Package caddytest runs a real Caddy for tests as the load balancer in
// front of mirrors, so that failover is tested against the proxy the
// compose setup runs (docs/scale.md) rather than against one written inside
// the test that retries exactly when the test expects it to.
//
// The binary is built once per machine by scripts/caddy.sh (make caddy) at a
// pinned release. Under CI a missing binary fails the test, since a skipped
// failover test looks green while testing nothing; elsewhere it skips, so
// that `go test ./...` on a fresh checkout runs the rest before `make caddy`.
//
// Every Caddy started here listens on 127.0.0.1 only, speaks plain HTTP
// (automatic HTTPS off), passes the visitor's Host header through (the
// portal serves minisites by host name), and keeps its admin endpoint, data
// and configuration under the test's own directories. In front of its
// upstreams it checks each one actively (GET /healthz) and passively
// (a failed request marks it down for a while), takes them in turn, and
// retries a request that met a dead upstream on another one.
package caddytest
