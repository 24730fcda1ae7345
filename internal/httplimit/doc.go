// Package httplimit bounds what HTTP clients can take from a server: how many
// connections are open in total and per client address, and how fast one
// address may send requests. The hub and the node put it in front of their
// handlers; the routes themselves decide which requests are limited and which
// (health checks, authenticated sync traffic) are protected.
package httplimit
