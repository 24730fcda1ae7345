package node

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/bikfed/bikfed/protocol"
)

// maxAttachedItems bounds the items CommunityAttachment returns: a file
// attached to more is still served to whoever reads one of the first.
const maxAttachedItems = 100

// AttachedItem is a live post or comment that carries an attachment.
type AttachedItem struct {
	ID    string
	Space string
	Owner string
	// Hidden: the moderators hid the item or its thread.
	Hidden bool
}

// CommunityAttachment returns the live posts and comments that carry the
// attachment sha, with their thread's space, so the workspace serves a
// community attachment only to who may read one of them.
func (n *Node) CommunityAttachment(ctx context.Context, sha string) ([]AttachedItem, error) {
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT i.id, t.space, i.owner, i.hidden OR t.hidden
		FROM entities e JOIN community_items i ON i.id = e.id JOIN community_threads t ON t.post = i.post
		WHERE e.blobs IS NOT NULL AND e.deleted = 0
			AND EXISTS (SELECT 1 FROM json_each(e.blobs) b WHERE json_extract(b.value, '$.sha256') = ?)
		LIMIT ?`, sha, maxAttachedItems)
	if err != nil {
		return nil, fmt.Errorf("items attaching %s: %w", clipHash(sha), err)
	}
	defer rows.Close()
	var out []AttachedItem
	for rows.Next() {
		var it AttachedItem
		if err := rows.Scan(&it.ID, &it.Space, &it.Owner, &it.Hidden); err != nil {
			return nil, fmt.Errorf("items attaching %s: %w", clipHash(sha), err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("items attaching %s: %w", clipHash(sha), err)
	}
	return out, nil
}

// AttachmentsOf returns the attachments of those of ids that have any, in
// one read for a thread page's post and comments.
func (n *Node) AttachmentsOf(ctx context.Context, ids []string) (map[string][]protocol.BlobRef, error) {
	out := make(map[string][]protocol.BlobRef)
	if len(ids) == 0 {
		return out, nil
	}
	if len(ids) > maxFlaggedTargets {
		ids = ids[:maxFlaggedTargets]
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT id, blobs FROM entities
		WHERE blobs IS NOT NULL AND deleted = 0 AND id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("attachments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("attachments: %w", err)
		}
		var refs []protocol.BlobRef
		if err := json.Unmarshal([]byte(raw), &refs); err != nil {
			return nil, fmt.Errorf("attachments of %s: %w", id, err)
		}
		if len(refs) > 0 {
			out[id] = refs
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attachments: %w", err)
	}
	return out, nil
}
