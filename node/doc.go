// Package node is a national Safer Internet Centre's lightweight bikfed node.
//
// A node keeps its own content and a copy of the network's shared content in
// one SQLite file (node.db), signs every change it authors with its own key
// (node.key, kept apart from the database so a lost database keeps the key),
// and synchronises with the hub over the sync API of package protocol:
//
//   - Authoring writes the entity and appends the signed change to a gap-free
//     outbox in the same transaction, so the outbox is exactly the list of
//     changes the hub has still to see. Entities with a publish_at in the
//     future stay local and unsigned until the "publish" schedule signs them.
//   - Push sends the outbox in seq order and stores the hub's checkpoint and
//     refusals in one transaction. A checkpoint is (epoch, seq): a node that
//     was restored from a backup or re-initialised starts a new epoch, so the
//     hub never confuses the new outbox numbering with the old one.
//   - Pull reads the hub's changes feed, verifies every signature on all
//     cores, and applies a page and its cursor in one transaction. Absence is
//     never read as a delete; the node's own content coming back from the hub
//     with a higher version is re-adopted, which is how a node recovers from
//     losing its database.
//   - Attachments live in a local blob store (<data>/blobs) by SHA-256. A push
//     first uploads the blobs its changes reference (resuming interrupted
//     uploads, never sending one the hub has); a fetch loop brings in, and
//     verifies, the attachments of pulled entities (blobs.go).
//
// Sync is triggered three ways: a debounced push after each local write, a
// long-poll pull loop, and robfig/cron schedules as the anti-entropy
// backstop. Every failure is logged and retried on the next trigger; local
// authoring never needs the hub.
//
// A small admin HTTP API (bearer token, loopback by default) exposes
// authoring, bulk import, status, sync and verification to the CLI.
package node
