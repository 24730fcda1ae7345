package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
)

// portalSource gives the portal's indexer read access to the aggregate and
// the commit broadcast that wakes long-polls. The portal reads every stored
// change, whatever its visibility, and decides itself what is public.
type portalSource struct{ h *Hub }

var _ portal.Source = portalSource{}

// Changes returns the latest version of each entity changed after since.
func (s portalSource) Changes(ctx context.Context, since int64, limit int) ([]portal.Change, error) {
	rows, err := s.h.db.Reader().QueryContext(ctx, `SELECT hub_seq, change, applied_at FROM entities WHERE hub_seq > ? ORDER BY hub_seq LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("read changes for the portal: %w", err)
	}
	defer rows.Close()
	var out []portal.Change
	for rows.Next() {
		var c portal.Change
		var appliedAt int64
		if err := rows.Scan(&c.HubSeq, &c.Raw, &appliedAt); err != nil {
			return nil, fmt.Errorf("read changes for the portal: %w", err)
		}
		c.AppliedAt = time.UnixMilli(appliedAt)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Entity returns the latest stored change of id.
func (s portalSource) Entity(ctx context.Context, id string) (portal.Change, bool, error) {
	var c portal.Change
	var appliedAt int64
	err := s.h.db.Reader().QueryRowContext(ctx, `SELECT hub_seq, change, applied_at FROM entities WHERE id = ?`, id).Scan(&c.HubSeq, &c.Raw, &appliedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read %s for the portal: %w", id, err)
	}
	c.AppliedAt = time.UnixMilli(appliedAt)
	return c, true, nil
}

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
