package mirror

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
)

// source gives the mirror's portal index the copy in mirror.db: the same
// changes, in the same hub_seq order, as the hub's portal reads.
type source struct{ m *Mirror }

var _ portal.Source = source{}

func (s source) Changes(ctx context.Context, since int64, limit int) ([]portal.Change, error) {
	rows, err := s.m.db.Reader().QueryContext(ctx, `SELECT hub_seq, id, change, applied_at, erased FROM entities
		WHERE hub_seq > ? ORDER BY hub_seq LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("read the mirror's changes: %w", err)
	}
	defer rows.Close()
	var out []portal.Change
	for rows.Next() {
		var c portal.Change
		var id string
		var raw []byte
		var at int64
		var erased bool
		if err := rows.Scan(&c.HubSeq, &id, &raw, &at, &erased); err != nil {
			return nil, fmt.Errorf("read the mirror's changes: %w", err)
		}
		c.AppliedAt = time.UnixMilli(at)
		if raw == nil {
			c.ID, c.Erased = id, erased
		} else {
			c.Raw = raw
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s source) Entity(ctx context.Context, id string) (portal.Change, bool, error) {
	var c portal.Change
	var at int64
	err := s.m.db.Reader().QueryRowContext(ctx, `SELECT hub_seq, change, applied_at FROM entities WHERE id = ? AND change IS NOT NULL`, id).
		Scan(&c.HubSeq, &c.Raw, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read %s: %w", id, err)
	}
	c.AppliedAt = time.UnixMilli(at)
	return c, true, nil
}

func (s source) Subscribe() <-chan struct{} {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.m.notify
}

// Busy is false: a mirror's one writer is its own pull, which indexing
// does not slow down noticeably.
func (s source) Busy() bool { return false }

func (s source) SpeaksFor(owner, country string) bool {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return slices.Contains(s.m.bindings[owner], country)
}
