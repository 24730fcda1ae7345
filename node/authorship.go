package node

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// Members write posts, comments and flags through CreateAs and UpdateAs:
// the node sets the author in the signed body from the member's account,
// so no form or API call can write in another's name, and remembers which
// member wrote what (migration 0014) for edits and for the erasure of a
// person.

var (
	// ErrNotAuthor: the member did not write the entity they try to change.
	ErrNotAuthor = errors.New("not the author")
	// ErrSpaceClosed: the member may not read, so not write in, the space.
	ErrSpaceClosed = errors.New("space closed to this member")
	// ErrHeldForApproval: a young person's post or comment goes to Hold.
	ErrHeldForApproval = errors.New("a youth member's posts and comments wait for a coordinator")
)

// authorKinds are the kinds a member writes under their own name.
var authorKinds = []protocol.Kind{protocol.KindPost, protocol.KindComment, protocol.KindFlag}

// CreateAs authors a post, a comment or a flag for member memberID: the
// body's author becomes the member's name and SIC (or, for a young
// person's flag, their pseudonym), and the space, which is a post's own or
// that of the thread a comment or flag belongs to, must be one the member
// reads. A young person's post or comment is refused with
// ErrHeldForApproval: it goes through Hold.
func (n *Node) CreateAs(ctx context.Context, memberID int64, d Draft) (Entity, error) {
	m, err := n.activeMember(ctx, memberID)
	if err != nil {
		return Entity{}, err
	}
	if !slices.Contains(authorKinds, d.Kind) {
		return Entity{}, fieldError("kind", "a member writes a post, a comment or a flag, not %q", d.Kind)
	}
	if d.Kind != protocol.KindFlag && HeldForApproval(m) {
		return Entity{}, ErrHeldForApproval
	}
	var e Entity
	err = n.write(ctx, func(a *author) error {
		body, err := n.authoredBody(ctx, a.tx, m, d)
		if err != nil {
			return err
		}
		d.Body = body
		r, _, err := a.put(ctx, "", d, false)
		if err != nil {
			return err
		}
		e = a.view(r)
		return a.recordAuthor(ctx, r.ID, m.ID)
	})
	if err != nil {
		return Entity{}, err
	}
	return e, nil
}

// UpdateAs writes a new version of a post or comment member memberID
// wrote; anyone else's is refused with ErrNotAuthor. The author stays the
// member's. A young person's edit would reach the network unread by a
// coordinator, so it is refused with ErrHeldForApproval.
func (n *Node) UpdateAs(ctx context.Context, memberID int64, id string, d Draft) (Entity, error) {
	m, err := n.activeMember(ctx, memberID)
	if err != nil {
		return Entity{}, err
	}
	var e Entity
	err = n.write(ctx, func(a *author) error {
		if err := a.checkAuthor(ctx, id, m.ID); err != nil {
			return err
		}
		cur, err := getEntityTx(ctx, a.tx, id)
		if err != nil {
			return err
		}
		if d.Kind == "" {
			d.Kind = cur.Kind
		}
		if d.Kind != cur.Kind {
			return fieldError("kind", "cannot change from %s to %s", cur.Kind, d.Kind)
		}
		if d.Kind != protocol.KindFlag && HeldForApproval(m) {
			return ErrHeldForApproval
		}
		body, err := n.authoredBody(ctx, a.tx, m, d)
		if err != nil {
			return err
		}
		d.Body = body
		r, _, err := a.put(ctx, id, d, false)
		e = a.view(r)
		return err
	})
	if err != nil {
		return Entity{}, err
	}
	return e, nil
}

// DeleteAs deletes a post, comment or flag member memberID wrote.
func (n *Node) DeleteAs(ctx context.Context, memberID int64, id string) (Entity, error) {
	var e Entity
	err := n.write(ctx, func(a *author) error {
		if err := a.checkAuthor(ctx, id, memberID); err != nil {
			return err
		}
		r, err := a.remove(ctx, id, false)
		e = a.view(r)
		return err
	})
	if err != nil {
		return Entity{}, err
	}
	return e, nil
}

// AuthorOf returns the member of this node who wrote entity id, or false
// when no member of this node did.
func (n *Node) AuthorOf(ctx context.Context, id string) (int64, bool, error) {
	var member int64
	err := n.db.Reader().QueryRowContext(ctx, `SELECT member_id FROM authorship WHERE entity_id = ?`, id).Scan(&member)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("author of %s: %w", id, err)
	}
	return member, true, nil
}

// WrittenBy returns which of ids, at most maxFlaggedTargets of them,
// member memberID wrote: a thread page asks once for all its items.
func (n *Node) WrittenBy(ctx context.Context, memberID int64, ids []string) (map[string]bool, error) {
	out := make(map[string]bool)
	if len(ids) == 0 {
		return out, nil
	}
	ids = ids[:min(len(ids), maxFlaggedTargets)]
	args := make([]any, 0, len(ids)+1)
	args = append(args, memberID)
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT entity_id FROM authorship
		WHERE member_id = ? AND entity_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("written by %d: %w", memberID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("written by %d: %w", memberID, err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("written by %d: %w", memberID, err)
	}
	return out, nil
}

// AuthoredBy returns the ids of every entity member memberID wrote, in id
// order, deleted ones included.
func (n *Node) AuthoredBy(ctx context.Context, memberID int64) ([]string, error) {
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT entity_id FROM authorship WHERE member_id = ? ORDER BY entity_id`, memberID)
	if err != nil {
		return nil, fmt.Errorf("authored by %d: %w", memberID, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("authored by %d: %w", memberID, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// activeMember returns member id if it may write.
func (n *Node) activeMember(ctx context.Context, id int64) (account.Member, error) {
	m, err := n.accounts.Get(ctx, id)
	if err != nil {
		return account.Member{}, fmt.Errorf("member %d: %w", id, err)
	}
	if m.Status == account.StatusDisabled {
		return account.Member{}, fmt.Errorf("member %d is disabled: %w", id, ErrSpaceClosed)
	}
	return m, nil
}

// authoredBody returns d's body with m as its author, after checking that
// m reads the space d writes in.
func (n *Node) authoredBody(ctx context.Context, tx *sql.Tx, m account.Member, d Draft) (json.RawMessage, error) {
	var ref struct {
		Space  string `json:"space"`
		Post   string `json:"post"`
		Target string `json:"target"`
	}
	if err := json.Unmarshal(d.Body, &ref); err != nil {
		return nil, fieldError("body", "not a JSON object")
	}
	space := ref.Space
	switch d.Kind {
	case protocol.KindComment:
		s, err := threadSpaceTx(ctx, tx, ref.Post)
		if err != nil {
			return nil, err
		}
		space = s
	case protocol.KindFlag:
		s, err := threadSpaceTx(ctx, tx, ref.Target)
		if err != nil {
			return nil, err
		}
		space = s
	}
	if !CanRead(m, n.ident.Node, space) {
		return nil, fmt.Errorf("%s: %w", space, ErrSpaceClosed)
	}
	who := protocol.Author{Name: m.Name, SIC: n.ident.Node}
	if HeldForApproval(m) {
		who = protocol.Author{Pseudonym: m.Pseudonym}
	}
	return withAuthor(d.Body, who)
}

// threadSpaceTx returns the space of the thread entity id (a post or a
// comment) belongs to; an entity not in the community is not found.
func threadSpaceTx(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	var space string
	err := tx.QueryRowContext(ctx, `SELECT t.space FROM community_items i JOIN community_threads t ON t.post = i.post
		WHERE i.id = ?`, id).Scan(&space)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s: %w", id, protocol.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("space of %s: %w", id, err)
	}
	return space, nil
}

// recordAuthor remembers that member wrote entity id.
func (a *author) recordAuthor(ctx context.Context, id string, member int64) error {
	if _, err := a.tx.ExecContext(ctx, `INSERT INTO authorship (entity_id, member_id) VALUES (?, ?)
		ON CONFLICT (entity_id) DO NOTHING`, id, member); err != nil {
		return fmt.Errorf("record author of %s: %w", id, err)
	}
	return nil
}

// checkAuthor refuses unless member wrote entity id.
func (a *author) checkAuthor(ctx context.Context, id string, member int64) error {
	var who int64
	err := a.tx.QueryRowContext(ctx, `SELECT member_id FROM authorship WHERE entity_id = ?`, id).Scan(&who)
	if errors.Is(err, sql.ErrNoRows) || err == nil && who != member {
		return fmt.Errorf("%s: %w", id, ErrNotAuthor)
	}
	if err != nil {
		return fmt.Errorf("author of %s: %w", id, err)
	}
	return nil
}

// withAuthor replaces the body's author: whatever a draft claims, it
// speaks as the member who sends it.
func withAuthor(body json.RawMessage, who protocol.Author) (json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fieldError("body", "required")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, fieldError("body", "not a JSON object")
	}
	author, err := json.Marshal(who)
	if err != nil {
		return nil, fmt.Errorf("encode author: %w", err)
	}
	fields["author"] = author
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, fieldError("body", "%v", err)
	}
	return out, nil
}
