package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// Flags as a node reads them. A flag is an entity like any other, owned by
// the flagger's node, and reaches every node that holds its target; the
// hub's moderators decide on it. A SIC's youth coordinators answer for
// their young people, so they see the flags on what those young people
// wrote, from whichever SIC the flag came, and what the moderators decided.

// Flag is one live flag as this node holds it.
type Flag struct {
	ID string
	// Owner is the flagger's SIC.
	Owner  string
	Target string
	Reason string
	Text   string
	// Author is the flagger: a name and SIC, or a young person's pseudonym.
	Author protocol.Author
	// At is when the flag was written (its latest version).
	At time.Time
}

// Decision is the moderators' latest word on a target, a dismiss
// included: the one that says someone looked and left it.
type Decision struct {
	Decision string
	Reason   string
	At       time.Time
}

// YouthFlag is a flag on a post or comment one of this node's young people
// wrote.
type YouthFlag struct {
	Flag
	// Member is the young person who wrote the target.
	Member int64
	// Decision is the moderators' latest on the target, nil while they have
	// decided nothing.
	Decision *Decision
}

// maxFlagTargets bounds one FlagsOn call: SQLite's limit on a statement's
// parameters is far above it, and a page never shows more.
const maxFlagTargets = 500

const flagColumns = `f.id, f.owner, f.updated_at, f.body`

func scanFlag(row interface{ Scan(...any) error }, extra ...any) (Flag, error) {
	var (
		f         Flag
		at, body  string
		flagBody  protocol.Flag
		dest      = append([]any{&f.ID, &f.Owner, &at, &body}, extra...)
		scanError = row.Scan(dest...)
	)
	if scanError != nil {
		return Flag{}, scanError
	}
	if err := json.Unmarshal([]byte(body), &flagBody); err != nil {
		return Flag{}, fmt.Errorf("flag %s: %w", f.ID, err)
	}
	f.At = parseTime(at)
	f.Target, f.Reason, f.Text, f.Author = flagBody.Target, flagBody.Reason, flagBody.Text, flagBody.Author
	return f, nil
}

// FlagsOn returns the live flags on each of targetIDs, newest first; a
// target nobody flagged has no entry. At most 500 targets at a time.
func (n *Node) FlagsOn(ctx context.Context, targetIDs []string) (map[string][]Flag, error) {
	out := map[string][]Flag{}
	if len(targetIDs) == 0 {
		return out, nil
	}
	if len(targetIDs) > maxFlagTargets {
		return nil, fmt.Errorf("flags on %d targets: at most %d at a time", len(targetIDs), maxFlagTargets)
	}
	args := make([]any, len(targetIDs))
	for i, id := range targetIDs {
		args[i] = id
	}
	// The expression and the kind are those of the index of migration
	// 0016, so each target is one index lookup.
	q := `SELECT ` + flagColumns + ` FROM entities f
		WHERE f.kind = 'flag' AND json_extract(f.body, '$.target') IN (` + placeholders(len(args)) + `)
		AND f.deleted = 0 AND f.body IS NOT NULL
		ORDER BY f.updated_at DESC, f.id DESC`
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, err := scanFlag(rows)
			if err != nil {
				return err
			}
			out[f.Target] = append(out[f.Target], f)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("flags on targets: %w", err)
	}
	return out, nil
}

// YouthFlagQuery selects flags for YouthFlags.
type YouthFlagQuery struct {
	// Limit defaults to 100 and is at most 1000.
	Limit int
}

// YouthFlags returns the live flags on posts and comments written by this
// node's young people (its members holding the youth role), newest first,
// each with the moderators' latest decision on its target.
func (n *Node) YouthFlags(ctx context.Context, q YouthFlagQuery) ([]YouthFlag, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	ms, err := n.accounts.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("youth flags: %w", err)
	}
	var youth []any
	for _, m := range ms {
		if m.HasRole(RoleYouth) {
			youth = append(youth, m.ID)
		}
	}
	out := []YouthFlag{}
	if len(youth) == 0 {
		return out, nil
	}
	// authorship is what the node's own members wrote, so the youth's items
	// are few next to the network's flags: start from them.
	stmt := `SELECT ` + flagColumns + `, a.member_id FROM authorship a
		JOIN entities f ON f.kind = 'flag' AND json_extract(f.body, '$.target') = a.entity_id
		WHERE a.member_id IN (` + placeholders(len(youth)) + `) AND f.deleted = 0 AND f.body IS NOT NULL
		ORDER BY f.updated_at DESC, f.id DESC LIMIT ?`
	err = n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, stmt, append(youth, limit)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var yf YouthFlag
			if yf.Flag, err = scanFlag(rows, &yf.Member); err != nil {
				return err
			}
			out = append(out, yf)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			d, ok, err := decisionTx(ctx, tx, out[i].Target)
			if err != nil {
				return err
			}
			if ok {
				out[i].Decision = &d
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("youth flags: %w", err)
	}
	return out, nil
}

// decisionTx returns the latest moderation decision on target.
func decisionTx(ctx context.Context, tx *sql.Tx, target string) (Decision, bool, error) {
	var d Decision
	var at string
	err := tx.QueryRowContext(ctx, `SELECT decision, reason, at FROM moderation_decisions WHERE target = ?
		ORDER BY at DESC, version DESC, moderation DESC LIMIT 1`, target).Scan(&d.Decision, &d.Reason, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Decision{}, false, nil
	}
	if err != nil {
		return Decision{}, false, fmt.Errorf("decision on %s: %w", target, err)
	}
	d.At = parseTime(at)
	return d, true, nil
}

func placeholders(k int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", k), ", ")
}

// ModerationOf returns the moderators' latest decision on each of targets
// that has one, a dismiss included. At most 500 targets at a time.
func (n *Node) ModerationOf(ctx context.Context, targets []string) (map[string]Decision, error) {
	if len(targets) > maxFlagTargets {
		return nil, fmt.Errorf("decisions on %d targets: at most %d at a time", len(targets), maxFlagTargets)
	}
	out := map[string]Decision{}
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		for _, t := range targets {
			d, ok, err := decisionTx(ctx, tx, t)
			if err != nil {
				return err
			}
			if ok {
				out[t] = d
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("moderation of targets: %w", err)
	}
	return out, nil
}
