package node

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/bikfed/bikfed/protocol"
)

// rebase signs the entity's current local content again as the version after
// onto, the highest version the hub holds of it, and appends it to the
// outbox. It is how an own change the hub cannot take as it is (the hub lost
// it, or holds a version made from a newer copy of this database) reaches
// the network as a new version instead of being dropped.
func (a *author) rebase(ctx context.Context, r entityRow, onto int64) (entityRow, error) {
	c := protocol.Change{
		Protocol: protocol.Version, ID: r.ID, Kind: r.Kind, Owner: r.Owner, Version: max(onto, r.Version) + 1, Seq: a.head + 1,
		UpdatedAt: a.now, Visibility: r.Visibility, PublishAt: r.PublishAt, Deleted: r.Deleted, Erased: r.Erased,
		KeyID: a.n.key.ID,
	}
	if !r.Deleted {
		c.Body, c.Blobs = r.Body, r.Blobs
		if len(c.Blobs) == 0 {
			c.Blobs = nil
		}
	}
	if err := checkChange(&c); err != nil {
		return entityRow{}, fmt.Errorf("rebase %s: %w", r.ID, err)
	}
	out, err := a.store(ctx, &c, false, false, r.Body)
	if err != nil {
		return entityRow{}, err
	}
	if r.Deleted && len(r.Blobs) > 0 {
		// A deleted entity keeps its attachment list locally, as Delete does.
		b, _ := json.Marshal(r.Blobs)
		if _, err := a.tx.ExecContext(ctx, `UPDATE entities SET blobs = ? WHERE id = ?`, string(b), r.ID); err != nil {
			return entityRow{}, fmt.Errorf("keep blobs of %s: %w", r.ID, err)
		}
	}
	return out, nil
}

// sameContent reports whether c says what the local row says, whatever its
// version and seq.
func sameContent(r entityRow, c *protocol.Change) bool {
	if r.Deleted != c.Deleted || r.Erased != c.Erased || r.Visibility != c.Visibility || r.Kind != c.Kind {
		return false
	}
	if (r.PublishAt == nil) != (c.PublishAt == nil) || r.PublishAt != nil && !r.PublishAt.Equal(*c.PublishAt) {
		return false
	}
	if r.Deleted {
		return true
	}
	var cb bytes.Buffer
	if len(c.Body) > 0 && json.Compact(&cb, c.Body) != nil {
		return false
	}
	return bytes.Equal(r.Body, cb.Bytes())
}

// reconcileLocked compares own content with the hub's manifest (docs/protocol.md
// §13) and re-sends, as new versions, what the hub lacks or holds otherwise;
// it asks for the whole feed again when the hub holds own entities newer than
// ours or ones we do not have. The caller holds pushMu, so no push of ours
// changes the hub's side meanwhile.
func (n *Node) reconcileLocked(ctx context.Context) error {
	m, err := n.client.Manifest(ctx, n.ident.Node)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	hub := make(map[string]protocol.ManifestEntry, len(m.Entries))
	for _, e := range m.Entries {
		hub[e.ID] = e
	}
	var rebased, repull int
	err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		rebased, repull = 0, 0
		a, err := n.beginAuthor(ctx, tx, n.now())
		if err != nil {
			return err
		}
		defer func() {
			a.upsert.Close()
			a.outbox.Close()
		}()
		lo, hi := ownerRange(n.ident.Node)
		ours := map[string]int64{}
		rs, err := tx.QueryContext(ctx, `SELECT entity_id, seq FROM rebase`)
		if err != nil {
			return fmt.Errorf("read rebase: %w", err)
		}
		for rs.Next() {
			var id string
			var seq int64
			if err := rs.Scan(&id, &seq); err != nil {
				rs.Close()
				return fmt.Errorf("read rebase: %w", err)
			}
			ours[id] = seq
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("read rebase: %w", err)
		}
		// The hub lacks what it refused: sending it again would only be
		// refused again.
		refusedV := map[string]int64{}
		rs, err = tx.QueryContext(ctx, `SELECT entity_id, max(version) FROM refusals WHERE source = 'push' AND entity_id >= ? AND entity_id < ?
			GROUP BY entity_id`, lo, hi)
		if err != nil {
			return fmt.Errorf("read refusals: %w", err)
		}
		for rs.Next() {
			var id string
			var v int64
			if err := rs.Scan(&id, &v); err != nil {
				rs.Close()
				return fmt.Errorf("read refusals: %w", err)
			}
			refusedV[id] = v
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("read refusals: %w", err)
		}
		// Only the bookkeeping is read for every own entity; the content
		// only for those signed again.
		type own struct {
			id                                string
			version, signedVersion, outboxSeq int64
			scheduled                         bool
			hash                              []byte
		}
		var local []own
		// A local entity (a national youth space's) is none of the hub's
		// business: it is neither compared nor ever sent.
		rows, err := tx.QueryContext(ctx, `SELECT id, version, signed_version, outbox_seq, scheduled, hash FROM entities
			WHERE id >= ? AND id < ? AND local = 0 ORDER BY id`, lo, hi)
		if err != nil {
			return fmt.Errorf("read own entities: %w", err)
		}
		for rows.Next() {
			var o own
			if err := rows.Scan(&o.id, &o.version, &o.signedVersion, &o.outboxSeq, &o.scheduled, &o.hash); err != nil {
				rows.Close()
				return fmt.Errorf("read own entities: %w", err)
			}
			local = append(local, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read own entities: %w", err)
		}
		seen := make(map[string]bool, len(local))
		for _, o := range local {
			seen[o.id] = true
			if o.scheduled {
				// Its next version is signed when it is published, on top
				// of whatever it holds then.
				continue
			}
			h, onHub := hub[o.id]
			pending := o.outboxSeq > a.checkpoint
			if seq, ok := ours[o.id]; ok && seq == o.outboxSeq {
				// The hub refused it for a version it holds: the local
				// content is still the newest intent.
				pending = true
				if !onHub || h.Version < o.version {
					h.Version = o.version
				}
				onHub = true
			}
			switch {
			case onHub && h.Version == o.signedVersion && h.Hash == hex.EncodeToString(o.hash):
				continue
			case pending && (!onHub || h.Version < o.version):
				continue // the push delivers it
			case !pending && onHub && h.Version > o.signedVersion:
				repull++ // the hub's is newer: the pull adopts it
				continue
			case !pending && refusedV[o.id] == o.signedVersion:
				continue
			}
			r, err := getEntityTx(ctx, tx, o.id)
			if err != nil {
				return err
			}
			if _, err := a.rebase(ctx, r, h.Version); err != nil {
				return err
			}
			rebased++
		}
		for id := range hub {
			if !seen[id] {
				repull++
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM rebase`); err != nil {
			return fmt.Errorf("clear rebase: %w", err)
		}
		q := `UPDATE sync_state SET reconcile = 0 WHERE id = 1`
		if repull > 0 {
			q = `UPDATE sync_state SET reconcile = 0, pull_cursor = 0 WHERE id = 1`
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store reconciliation: %w", err)
		}
		return a.finish(ctx)
	})
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if rebased > 0 || repull > 0 {
		n.log.Warn("reconciled own content with the hub's manifest", "resent_as_new_versions", rebased,
			"to_pull_again", repull, "hub_entities", len(m.Entries))
	} else {
		n.log.Info("reconciled own content with the hub's manifest: nothing differs", "hub_entities", len(m.Entries))
	}
	return nil
}

// checkRewound reports whether feed, asked for after cursor since obtained
// from hub incarnation inc, shows that the hub went back in time: our cursor
// is past what its database holds, past its head or past the end of the
// history we pulled from. Then it starts the repair (hubRewound). st is the
// sync state the request was made from.
func (n *Node) checkRewound(ctx context.Context, feed *protocol.Feed, since int64, inc string, st syncState) (bool, error) {
	var to int64
	var why string
	switch {
	case feed.LineageSeq != nil && *feed.LineageSeq < since:
		to = *feed.LineageSeq
		why = fmt.Sprintf("our cursor %d came from hub incarnation %s, whose history the hub (incarnation %s) holds only up to %d",
			since, inc, feed.Incarnation, to)
		if to == 0 && st.HubPrevIncarnation != "" && st.HubPrevIncarnation != feed.Incarnation {
			// A copy taken while the hub was stopped does not know the
			// incarnation that started after it, but may know the one
			// before: the histories agree up to where both say it ended.
			prev, err := n.client.ChangesAfter(ctx, protocol.FeedQuery{Since: feed.HubSeq, Limit: 1, Incarnation: st.HubPrevIncarnation})
			if err != nil {
				return false, err
			}
			if prev.LineageSeq != nil && *prev.LineageSeq > 0 {
				to = min(*prev.LineageSeq, st.HubPrevEnd, since)
				why += fmt.Sprintf(", and the history of incarnation %s before it up to %d", st.HubPrevIncarnation, to)
			}
		}
	case feed.HubSeq < since:
		to = feed.HubSeq
		why = fmt.Sprintf("our cursor %d is past the hub's head %d", since, feed.HubSeq)
	default:
		return false, nil
	}
	return true, n.hubRewound(ctx, to, feed, why)
}

// hubRewound handles a hub that went back in time: its database no longer
// holds everything this node pulled from it (restored from an older copy).
// The cursor goes back to where the hub's history and ours agree, so nothing
// written since is missed, and the next push first re-sends what the hub
// lost of ours.
func (n *Node) hubRewound(ctx context.Context, to int64, feed *protocol.Feed, reason string) error {
	now := n.now()
	err := n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE sync_state SET pull_cursor = min(pull_cursor, ?), hub_seq = ?,
			hub_incarnation = CASE WHEN ? != '' THEN ? ELSE hub_incarnation END, reconcile = 1, hub_rewound_at = ?,
			hub_prev_incarnation = '', hub_prev_end = 0
			WHERE id = 1`, to, feed.HubSeq, feed.Incarnation, feed.Incarnation, fmtTime(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("hub went back in time: %w", err)
	}
	n.log.Warn("the hub went back in time (restored from an older copy?): pulling again from where it agrees with us, and re-sending what it lost",
		"reason", reason, "cursor", to, "hub_seq", feed.HubSeq, "incarnation", feed.Incarnation)
	n.kickPush()
	return nil
}
