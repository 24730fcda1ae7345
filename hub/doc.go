// Package hub is the central hub of a bikfed network, run by the coordination
// team. It keeps the aggregate (the latest signed version of every entity of
// every node), the registry of nodes with their sync checkpoints, and the key
// directory, and it serves the sync API of protocol v1 (enrol, push, the
// changes feed, keys, manifest, status), the operator's admin API for
// hub-owned entities, and a read-only public JSON API over public content.
//
// Every change, whether pushed by a node or authored by the hub itself, goes
// through one apply path: verified in Ed25519 batches on all cores before the write transaction,
// then applied together with the refusals and the pusher's checkpoint in one
// SQLite transaction, each applied change taking the next global hub_seq.
// Change bytes are stored and served verbatim, so any puller can verify them
// end to end against the key directory.
//
// Routes (Handler):
//
//	GET    /healthz                              "ok"
//	POST   /v1/enrol                             one-time token -> credential
//	POST   /v1/push                              node; NDJSON, optionally zstd or gzip
//	GET    /v1/changes?since=&limit=&wait=       node or operator; long-poll
//	GET    /v1/keys                              public key directory
//	GET    /v1/manifest[?owner=]                 node or operator
//	GET    /v1/status                            operator: network; node: itself
//	POST   /v1/erasures/ack                      node: erasures purged (erasure.go)
//	HEAD   /v1/blobs/{sha256}                    node or operator: held? partial upload offset
//	PUT    /v1/blobs/{sha256}?size=&offset=      node or operator: upload (the rest of) a blob
//	GET    /v1/blobs/{sha256}                    node or operator: download a blob
//	GET    /files/{sha256}/{name}                public: attachment of a public entity
//	POST   /admin/v1/nodes                       operator: register a node
//	POST   /admin/v1/entities                    operator: publish a hub entity
//	PUT    /admin/v1/entities/{id}               operator: new version
//	DELETE /admin/v1/entities/{id}[?erase=1]     operator: delete or erase
//	POST   /admin/v1/erasures                    operator: erase any owner's entity {id, reason}
//	GET    /admin/v1/nodes/{id}/quota            operator: a node's attachment storage
//	PUT    /admin/v1/nodes/{id}/quota            operator: give a node its own quota
//	POST   /admin/v1/nodes/{id}/{action}         operator: suspend, resume, rotate-key, remove a node
//	GET    /api/v1/entities?kind=&owner=&lang=&limit=&after=
//	GET    /api/v1/entities/{id}
//	GET    /api/v1/resources/{id}/translations
//	GET    /…                                    the public portal (package portal): every other path
//
// State kept in memory for speed (credentials, suspensions, checkpoints, pull
// cursors, the key directory, the hub_seq head) is rebuilt from the database
// at Open and then trusted: one process writes hub.db. While a server runs,
// the CLI goes through its admin API; OpenForCommand is for when none runs.
package hub
