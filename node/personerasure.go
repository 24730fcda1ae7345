package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// The erasure of a person (docs/community.md): an admin removes a member
// together with everything they wrote. One transaction erases every post,
// comment and flag the member wrote through the ordinary erasure path (so
// each reaches every holder as any erasure does), deletes their held items,
// read markers and authorship rows, deletes the account with its sessions,
// links and passkeys, takes their personal data out of the audit log, and
// records the person erasure (migration 0017) without anything that names
// them. A crash before the commit leaves everything as it was; after it,
// the erasure path's own bookkeeping (erasure_purges) finishes the purge.
// The hub then reports, per entity, which holders have purged it
// (RefreshPersonErasures).

// ErrEraseSelf: an admin cannot erase themselves.
var ErrEraseSelf = errors.New("a member cannot erase themselves")

// PersonErasure is one erasure of a person, as recorded.
type PersonErasure struct {
	ID int64
	// MemberID is the erased member's number; nothing else of them is kept.
	MemberID int64
	// Actor is the audit log's name for who erased them.
	Actor string
	At    time.Time
	// Posts, Comments and Flags count the entities erased; Held the items
	// waiting for (or refused) approval that were deleted.
	Posts, Comments, Flags, Held int
	// CheckedAt is when the hub last reported on the erasures.
	CheckedAt *time.Time
	// CompleteAt is when every holder had purged everything.
	CompleteAt *time.Time
}

// Group is the label the hub keeps for the person erasure's entities: the
// node's number for it, nothing about the person.
func (p PersonErasure) Group() string { return "person-" + strconv.FormatInt(p.ID, 10) }

// Items is how many entities the person erasure erased.
func (p PersonErasure) Items() int { return p.Posts + p.Comments + p.Flags }

// HolderProgress is how far one holder has got with a person erasure.
type HolderProgress struct {
	// Holder is a node id; protocol.HubID for the hub.
	Holder string
	// Done counts the erased entities the holder has purged, of Total it
	// holds.
	Done, Total int
}

// Complete reports whether the holder has purged everything.
func (h HolderProgress) Complete() bool { return h.Done == h.Total }

// PersonErasureProgress is a person erasure with how far each holder has
// got: this node first, then the hub, then the other nodes in id order.
type PersonErasureProgress struct {
	PersonErasure
	Holders []HolderProgress
	// Complete is set when every holder has purged every item, as the hub
	// last reported.
	Complete bool
}

// AuthoredCounts counts what member wrote that an erasure would take: live
// or deleted posts, comments and flags not erased yet, and their held items.
type AuthoredCounts struct {
	Posts, Comments, Flags, Held int
}

// Authored counts what ErasePerson would erase for member memberID.
func (n *Node) Authored(ctx context.Context, memberID int64) (AuthoredCounts, error) {
	var c AuthoredCounts
	err := n.db.Reader().QueryRowContext(ctx, `SELECT
		COUNT(*) FILTER (WHERE e.kind = 'post'), COUNT(*) FILTER (WHERE e.kind = 'comment'),
		COUNT(*) FILTER (WHERE e.kind = 'flag'),
		(SELECT COUNT(*) FROM held_items WHERE member_id = ?1 AND state != 'approved')
		FROM authorship a JOIN entities e ON e.id = a.entity_id WHERE a.member_id = ?1 AND e.erased = 0`,
		memberID).Scan(&c.Posts, &c.Comments, &c.Flags, &c.Held)
	if err != nil {
		return AuthoredCounts{}, fmt.Errorf("count what member %d wrote: %w", memberID, err)
	}
	return c, nil
}

// ErasePerson removes member memberID together with everything they wrote,
// on actor's authority (an audit log actor: account.MemberActor of the
// admin, or the admin token's). The member may not be the actor. It returns
// the recorded person erasure; an unknown member is account.ErrNotFound.
// A member removed earlier without erasure can still be erased by their
// number: what they wrote goes as above, and the audit log records it.
func (n *Node) ErasePerson(ctx context.Context, memberID int64, actor string) (PersonErasure, error) {
	if actor == account.MemberActor(memberID) {
		return PersonErasure{}, ErrEraseSelf
	}
	var pe PersonErasure
	err := n.write(ctx, func(a *author) error {
		pe = PersonErasure{MemberID: memberID, Actor: actor, At: a.now}
		type item struct {
			id, kind string
			local    bool
		}
		var items []item
		rows, err := a.tx.QueryContext(ctx, `SELECT a.entity_id, e.kind, e.local, e.erased FROM authorship a
			JOIN entities e ON e.id = a.entity_id WHERE a.member_id = ? ORDER BY a.entity_id`, memberID)
		if err != nil {
			return fmt.Errorf("read what member %d wrote: %w", memberID, err)
		}
		for rows.Next() {
			var it item
			var erased bool
			if err := rows.Scan(&it.id, &it.kind, &it.local, &erased); err != nil {
				rows.Close()
				return fmt.Errorf("read what member %d wrote: %w", memberID, err)
			}
			if !erased {
				items = append(items, it)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read what member %d wrote: %w", memberID, err)
		}
		for _, it := range items {
			if _, err := a.remove(ctx, it.id, true); err != nil {
				return fmt.Errorf("erase %s: %w", it.id, err)
			}
			switch protocol.Kind(it.kind) {
			case protocol.KindPost:
				pe.Posts++
			case protocol.KindComment:
				pe.Comments++
			case protocol.KindFlag:
				pe.Flags++
			}
		}
		res, err := a.tx.ExecContext(ctx, `DELETE FROM held_items WHERE member_id = ? AND state != 'approved'`, memberID)
		if err != nil {
			return fmt.Errorf("delete held items of member %d: %w", memberID, err)
		}
		held, _ := res.RowsAffected()
		pe.Held = int(held)
		// An approved item's text is its entity's, erased above; the row
		// itself says which member it was. Rows left of a member removed
		// earlier make the erasure worth recording even with nothing left
		// to erase.
		var orphans bool
		if err := a.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM held_items WHERE member_id = ?1)
			OR EXISTS (SELECT 1 FROM authorship WHERE member_id = ?1)`, memberID).Scan(&orphans); err != nil {
			return fmt.Errorf("erase member %d: %w", memberID, err)
		}
		for _, q := range []string{
			`DELETE FROM held_items WHERE member_id = ?`,
			`DELETE FROM community_reads WHERE member_id = ?`,
			`DELETE FROM authorship WHERE member_id = ?`,
		} {
			if _, err := a.tx.ExecContext(ctx, q, memberID); err != nil {
				return fmt.Errorf("erase member %d: %w", memberID, err)
			}
		}
		detail := fmt.Sprintf("%d posts, %d comments, %d flags, %d held items", pe.Posts, pe.Comments, pe.Flags, pe.Held)
		_, err = n.accounts.EraseTx(ctx, a.tx, actor, memberID, detail)
		switch {
		case errors.Is(err, account.ErrNotFound) && (len(items) > 0 || pe.Held > 0 || orphans):
			// Removed earlier without erasure: what they wrote is still
			// theirs to erase.
			err = n.accounts.RecordTx(ctx, a.tx, account.Event{Type: account.EventMemberErased, MemberID: memberID, Actor: actor, Detail: detail})
			if err != nil {
				return err
			}
		case err != nil:
			return err
		}
		err = a.tx.QueryRowContext(ctx, `INSERT INTO person_erasures (member_id, actor, at, posts, comments, flags, held)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, memberID, actor, fmtTime(a.now), pe.Posts, pe.Comments, pe.Flags, pe.Held).Scan(&pe.ID)
		if err != nil {
			return fmt.Errorf("record the erasure of member %d: %w", memberID, err)
		}
		for _, it := range items {
			if _, err := a.tx.ExecContext(ctx, `INSERT INTO person_erasure_items (erasure_id, entity_id, kind, local)
				VALUES (?, ?, ?, ?)`, pe.ID, it.id, it.kind, it.local); err != nil {
				return fmt.Errorf("record the erasure of member %d: %w", memberID, err)
			}
		}
		return nil
	})
	if err != nil {
		return PersonErasure{}, err
	}
	// The account's and the held items' rows are zeroed in the main file;
	// the WAL may still hold them until a checkpoint.
	if err := n.db.Checkpoint(ctx); err != nil {
		n.needCheckpoint.Store(true)
		n.log.Info("checkpoint after erasing a person deferred", "err", err)
	}
	n.log.Info("person erased", "erasure", pe.ID, "member", memberID, "actor", actor,
		"posts", pe.Posts, "comments", pe.Comments, "flags", pe.Flags, "held", pe.Held)
	return pe, nil
}

const personErasureColumns = `id, member_id, actor, at, posts, comments, flags, held, checked_at, complete_at`

func scanPersonErasure(s scanner) (PersonErasure, error) {
	var p PersonErasure
	var at string
	var checked, complete sql.NullString
	if err := s.Scan(&p.ID, &p.MemberID, &p.Actor, &at, &p.Posts, &p.Comments, &p.Flags, &p.Held, &checked, &complete); err != nil {
		return PersonErasure{}, err
	}
	p.At, p.CheckedAt, p.CompleteAt = parseTime(at), parseTimePtr(checked), parseTimePtr(complete)
	return p, nil
}

// PersonErasures lists the person erasures, newest first, with how far
// each holder has got as the hub last reported.
func (n *Node) PersonErasures(ctx context.Context) ([]PersonErasureProgress, error) {
	var out []PersonErasureProgress
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+personErasureColumns+` FROM person_erasures ORDER BY id DESC`)
		if err != nil {
			return err
		}
		for rows.Next() {
			p, err := scanPersonErasure(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, PersonErasureProgress{PersonErasure: p})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if err := n.personProgress(ctx, tx, &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read person erasures: %w", err)
	}
	return out, nil
}

// personProgress fills in p's holders. This node has purged an item once
// its erasure_purges row is gone; every other holder once the hub has its
// acknowledgement; the hub once the erasure is complete there, since the
// hub clears its own write-ahead log of the erased text only then (§17).
func (n *Node) personProgress(ctx context.Context, tx *sql.Tx, p *PersonErasureProgress) error {
	rows, err := tx.QueryContext(ctx, `SELECT i.local, i.hub_seq, i.complete, i.holders,
		EXISTS (SELECT 1 FROM erasure_purges u WHERE u.entity_id = i.entity_id)
		FROM person_erasure_items i WHERE i.erasure_id = ?`, p.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	self := HolderProgress{Holder: n.ident.Node}
	hub := HolderProgress{Holder: protocol.HubID}
	others := map[string]*HolderProgress{}
	complete := true
	for rows.Next() {
		var local, done, pending bool
		var seq int64
		var holders string
		if err := rows.Scan(&local, &seq, &done, &holders, &pending); err != nil {
			return err
		}
		self.Total++
		if !pending {
			self.Done++
		}
		if local {
			complete = complete && !pending
			continue
		}
		complete = complete && done && !pending
		hub.Total++
		if done {
			hub.Done++
		}
		var hs []protocol.HolderState
		if err := json.Unmarshal([]byte(holders), &hs); err != nil {
			return fmt.Errorf("decode holders of person erasure %d: %w", p.ID, err)
		}
		for _, h := range hs {
			o := others[h.Node]
			if o == nil {
				o = &HolderProgress{Holder: h.Node}
				others[h.Node] = o
			}
			o.Total++
			if h.Acked {
				o.Done++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	p.Holders = append(p.Holders, self)
	if hub.Total > 0 {
		p.Holders = append(p.Holders, hub)
	}
	ids := make([]string, 0, len(others))
	for id := range others {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p.Holders = append(p.Holders, *others[id])
	}
	p.Complete = complete
	return nil
}

// RefreshPersonErasures asks the hub how far the person erasures not yet
// complete have got, and records the answer. A person erasure whose every
// holder has purged everything is marked complete and no longer asked
// about.
func (n *Node) RefreshPersonErasures(ctx context.Context) error {
	type open struct {
		erasure int64
		ids     []string
	}
	var todo []open
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT p.id, i.entity_id FROM person_erasures p
		JOIN person_erasure_items i ON i.erasure_id = p.id AND i.local = 0 AND i.complete = 0
		WHERE p.complete_at IS NULL ORDER BY p.id, i.entity_id`)
	if err != nil {
		return fmt.Errorf("read open person erasures: %w", err)
	}
	for rows.Next() {
		var id int64
		var entity string
		if err := rows.Scan(&id, &entity); err != nil {
			rows.Close()
			return fmt.Errorf("read open person erasures: %w", err)
		}
		if len(todo) == 0 || todo[len(todo)-1].erasure != id {
			todo = append(todo, open{erasure: id})
		}
		todo[len(todo)-1].ids = append(todo[len(todo)-1].ids, entity)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read open person erasures: %w", err)
	}
	for _, o := range todo {
		group := PersonErasure{ID: o.erasure}.Group()
		for chunk := range slices.Chunk(o.ids, protocol.MaxErasureStatusIDs) {
			res, err := n.client.ErasureStatus(ctx, protocol.ErasureStatusRequest{Group: group, IDs: chunk})
			if err != nil {
				return fmt.Errorf("person erasure %d: %w", o.erasure, err)
			}
			err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
				for _, st := range res.Erasures {
					holders, err := json.Marshal(st.Holders)
					if err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `UPDATE person_erasure_items SET hub_seq = ?, complete = ?, holders = ?
						WHERE erasure_id = ? AND entity_id = ?`, st.HubSeq, st.Complete, string(holders), o.erasure, st.ID); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("record the status of person erasure %d: %w", o.erasure, err)
			}
		}
	}
	now := fmtTime(n.now())
	// Checked: every open one, asked about just now or (with only local
	// items) needing no hub. Complete: nothing left waiting anywhere.
	_, err = n.db.Writer().ExecContext(ctx, `UPDATE person_erasures SET checked_at = ?1,
		complete_at = CASE WHEN NOT EXISTS (SELECT 1 FROM person_erasure_items i WHERE i.erasure_id = person_erasures.id
			AND ((i.local = 0 AND i.complete = 0) OR EXISTS (SELECT 1 FROM erasure_purges u WHERE u.entity_id = i.entity_id)))
			THEN ?1 END
		WHERE complete_at IS NULL`, now)
	if err != nil {
		return fmt.Errorf("record the status of person erasures: %w", err)
	}
	return nil
}
