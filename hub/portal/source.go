package portal

import (
	"context"
	"time"
)

// Change is one stored change of the aggregate: its hub_seq, the exact
// bytes its owner signed, and when the hub received it.
type Change struct {
	HubSeq int64
	Raw    []byte
	// AppliedAt is the hub's time of receipt. The index dates a change no
	// later than this, whatever updated_at its owner's clock wrote; zero
	// leaves updated_at as it is.
	AppliedAt time.Time
	// ID, with Raw nil, is a withdrawal: the entity was public and is not
	// any more. Erased marks a withdrawal that is an erasure.
	ID     string
	Erased bool
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
