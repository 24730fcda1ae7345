// Package gossip is bikfed's membership layer: the one package that knows
// hashicorp/memberlist.
//
// Every hub, node and mirror runs one Gossip. It tells the others who is
// there (alive, failed or gone for good) and carries a few bytes of metadata
// per member (Meta): node id, role, epoch, the latest outbox seq or hub_seq,
// the HTTP API address and the sync protocol version. Those numbers are hints:
// a hub whose hub_seq moved past a node's cursor is a reason for that node to
// pull now, a node whose seq moved is a reason to expect its push. Data never
// travels over gossip, and nothing may depend on gossip working: HTTP sync
// stays authoritative and its schedules are the backstop where UDP is blocked.
//
// Gossip is encrypted with an AES keyring and every packet and stream carries
// a cluster label, so a member with the wrong key or label cannot join; both
// the refusing and the refused side say so in their logs. Keys rotate without
// downtime: AddKey everywhere, UseKey everywhere, RemoveKey everywhere.
//
// Members that stop are told apart: Close announces the leave before
// memberlist's own leave message, so the others record the member as "left";
// one that goes silent (killed, crashed, cut off) is declared "dead" by
// failure detection, and the others keep trying to reconnect to it, as they
// retry the seeds while alone, so that a restarted hub or a healed
// partition merges back into one cluster.
//
// Memberlist calls into this package from its own goroutines while holding its
// own locks, so the callbacks here (delegate.go) only copy data, update a map
// and hand events to buffered channels that drop the oldest event rather than
// block. A consumer that must not miss a state reads Members(); events are
// wake-ups, not a log.
package gossip
