package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/protocol"
)

// portalSource gives the portal's indexer the public selection of the
// aggregate (publicChanges, mirrors.go), exactly what a mirror is sent, and
// the commit broadcast that wakes long-polls.
type portalSource struct{ h *Hub }

var _ portal.Source = portalSource{}

// Changes returns the public selection after since.
func (s portalSource) Changes(ctx context.Context, since int64, limit int) ([]portal.Change, error) {
	items, err := publicChanges(ctx, s.h.db.Reader(), since, limit)
	if err != nil {
		return nil, fmt.Errorf("read changes for the portal: %w", err)
	}
	out := make([]portal.Change, len(items))
	for i, pc := range items {
		out[i] = pc.toPortal()
	}
	return out, nil
}

// Entity returns the latest stored change of id when it is public.
func (s portalSource) Entity(ctx context.Context, id string) (portal.Change, bool, error) {
	var c portal.Change
	var appliedAt int64
	var vis string
	err := s.h.db.Reader().QueryRowContext(ctx, `SELECT hub_seq, change, applied_at, visibility FROM entities WHERE id = ?`, id).Scan(&c.HubSeq, &c.Raw, &appliedAt, &vis)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read %s for the portal: %w", id, err)
	}
	if !protocol.Visibility(vis).Public() {
		return portal.Change{}, false, nil
	}
	c.AppliedAt = time.UnixMilli(appliedAt)
	return c, true, nil
}

// Head is the last hub_seq committed, public or not.
func (s portalSource) Head() int64 { return s.h.head.Load() }

// Subscribe returns the channel the next commit closes.
func (s portalSource) Subscribe() <-chan struct{} {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.h.notify
}

// pushQuiet is how long after the last push ends the hub counts as quiet: a
// node sending its outbox sends the next batch within milliseconds of the
// previous answer.
const pushQuiet = 250 * time.Millisecond

// Busy reports whether a push is being applied or one ended moments ago.
func (s portalSource) Busy() bool {
	return s.h.pushing.Load() > 0 || time.Since(time.UnixMilli(s.h.pushedAt.Load())) < pushQuiet
}

// SpeaksFor reports whether the registry binds owner to country.
func (s portalSource) SpeaksFor(owner, country string) bool {
	return slices.Contains(s.h.countriesOf(owner), country)
}

// Portal returns the hub's public portal.
func (h *Hub) Portal() *portal.Portal { return h.portal }
