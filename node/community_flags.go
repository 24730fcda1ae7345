package node

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/bikfed/bikfed/protocol"
)

// maxFlaggedTargets bounds the items FlaggedBy looks up at once: a thread
// page's post and comments.
const maxFlaggedTargets = 500

// FlaggedBy returns which of targets, the ids of posts and comments, member
// memberID has flagged (with a live flag), so a page can tell the member
// that they already did.
func (n *Node) FlaggedBy(ctx context.Context, memberID int64, targets []string) (map[string]bool, error) {
	out := make(map[string]bool)
	if len(targets) == 0 {
		return out, nil
	}
	if len(targets) > maxFlaggedTargets {
		targets = targets[:maxFlaggedTargets]
	}
	args := make([]any, 0, len(targets)+1)
	args = append(args, memberID)
	for _, t := range targets {
		args = append(args, t)
	}
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT json_extract(e.body, '$.target')
		FROM authorship a JOIN entities e ON e.id = a.entity_id
		WHERE a.member_id = ? AND e.kind = 'flag' AND e.deleted = 0
			AND json_extract(e.body, '$.target') IN (?`+strings.Repeat(", ?", len(targets)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("flags of member %d: %w", memberID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("flags of member %d: %w", memberID, err)
		}
		out[t] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("flags of member %d: %w", memberID, err)
	}
	return out, nil
}

// ItemHidden reports whether the moderators hid the post or comment id, or
// the thread it is in; protocol.ErrNotFound when it is not in the
// community.
func (n *Node) ItemHidden(ctx context.Context, id string) (bool, error) {
	var hidden bool
	err := n.db.Reader().QueryRowContext(ctx, `SELECT i.hidden OR t.hidden FROM community_items i
		JOIN community_threads t ON t.post = i.post WHERE i.id = ?`, id).Scan(&hidden)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("%s: %w", id, protocol.ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("hidden state of %s: %w", id, err)
	}
	return hidden, nil
}
