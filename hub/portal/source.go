package portal

import "context"

// Change is one stored change of the aggregate: its hub_seq and the exact
// bytes its owner signed.
type Change struct {
	HubSeq int64
	Raw    []byte
}

// Source is the aggregate the portal indexes: the hub's entity store. It is
// declared here, where it is used, so the hub depends on the portal and not
// the reverse.
type Source interface {
	// Changes returns up to limit stored changes with hub_seq > since, in
	// hub_seq order: the latest version of every entity changed after since.
	Changes(ctx context.Context, since int64, limit int) ([]Change, error)
	// Entity returns the latest stored change of one entity, false if there
	// is none.
	Entity(ctx context.Context, id string) (Change, bool, error)
	// Subscribe returns a channel closed at the next commit, so the indexer
	// wakes as syncs land instead of polling.
	Subscribe() <-chan struct{}
	// Busy reports whether the source is applying writes that indexing
	// should not slow down (nodes pushing to the hub); the indexer then
	// takes a small share of the time until it is not.
	Busy() bool
	// SpeaksFor reports whether owner may publish the profile of country
	// (its helpline and hotline): a profile of anyone else is never shown.
	SpeaksFor(owner, country string) bool
}
