package portaltest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/protocol"
)

// Source is an aggregate held in memory, as a holder of public content
// delivers it to its portal: the latest change of each entity (a public
// version or a withdrawal), in hub_seq order. It lets tests feed several
// portals the same changes in different steps.
type Source struct {
	mu      sync.Mutex
	seq     int64
	changes []portal.Change // latest per entity, in hub_seq order
	notify  chan struct{}
}

var _ portal.Source = (*Source)(nil)

// NewSource returns an empty source.
func NewSource() *Source { return &Source{notify: make(chan struct{})} }

// Put stores c as its entity's latest change, at the next hub_seq, received
// at appliedAt, and returns that hub_seq.
func (s *Source) Put(c *protocol.Change, appliedAt time.Time) int64 {
	raw, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return s.put(portal.Change{ID: c.ID, Raw: raw, AppliedAt: appliedAt})
}

// Withdraw stores the withdrawal of id: it was public and no longer is.
func (s *Source) Withdraw(id string, erased bool, appliedAt time.Time) int64 {
	return s.put(portal.Change{ID: id, Erased: erased, AppliedAt: appliedAt})
}

// Copy puts the changes of other after s's head and up to hub_seq upTo into
// s, keeping their hub_seqs, as a mirror pulls them from the hub.
func (s *Source) Copy(other *Source, upTo int64) {
	other.mu.Lock()
	list := slices.Clone(other.changes)
	other.mu.Unlock()
	for _, c := range list {
		if c.HubSeq > s.Head() && c.HubSeq <= upTo {
			s.store(c)
		}
	}
}

func (s *Source) put(c portal.Change) int64 {
	c.HubSeq = s.Head() + 1
	s.store(c)
	return c.HubSeq
}

// store keeps c as its entity's latest change.
func (s *Source) store(c portal.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq = c.HubSeq
	s.changes = slices.DeleteFunc(s.changes, func(o portal.Change) bool { return o.ID == c.ID })
	s.changes = append(s.changes, c)
	close(s.notify)
	s.notify = make(chan struct{})
}

// Head is the last hub_seq stored.
func (s *Source) Head() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Changes returns up to limit changes after since.
func (s *Source) Changes(_ context.Context, since int64, limit int) ([]portal.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []portal.Change
	for _, c := range s.changes {
		if c.HubSeq > since && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

// Entity returns the latest change of id.
func (s *Source) Entity(_ context.Context, id string) (portal.Change, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.changes {
		if c.ID == id {
			return c, true, nil
		}
	}
	return portal.Change{}, false, nil
}

// Subscribe returns a channel closed at the next Put or Withdraw.
func (s *Source) Subscribe() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

// Busy is always false: nothing is pushing.
func (s *Source) Busy() bool { return false }

// SpeaksFor binds each owner to the country of the same name.
func (s *Source) SpeaksFor(owner, country string) bool { return owner == country }
