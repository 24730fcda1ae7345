package portal

import (
	"context"
	"time"
)

// Change is one stored change of the aggregate: its hub_seq, the exact
// bytes its owner signed, and when the hub received it.
//
// A Change without Raw is a withdrawal: the entity ID was public and no
// longer is (made community or youth, or erased while not public), so a
// holder of public content only gets no version of it to index, only word
// that everything of it must go, exactly as for a version that is not shown.
type Change struct {
	HubSeq int64
	// ID is the entity's id. It is required of a withdrawal; of a change
	// with Raw, the id inside Raw counts.
	ID  string
	Raw []byte
	// Erased marks a withdrawal as an erasure: the index then makes sure
	// the removed text leaves its files, as for an erased change.
	Erased bool
	// AppliedAt is the hub's time of receipt. The index dates a change no
	// later than this, whatever updated_at its owner's clock wrote; zero
	// leaves updated_at as it is.
	AppliedAt time.Time
}

// Source is the aggregate the portal indexes: the hub's entity store. It is
// declared here, where it is used, so the hub depends on the portal and not
// the reverse.
type Source interface {
	// Changes returns up to limit stored changes with hub_seq > since, in
	// hub_seq order: the latest version of every entity changed after since.
	Changes(ctx context.Context, since int64, limit int) ([]Change, error)
	// Entity returns the latest stored change of one entity (or its
	// withdrawal), false if there is none.
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
