package node

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/bikfed/bikfed/protocol"
)

// maxDifferences caps the per-id differences a report lists.
const maxDifferences = 1000

// The types of Difference.
const (
	DiffMissingOnNode = "missing_on_node"
	DiffMissingOnHub  = "missing_on_hub"
	DiffVersion       = "version_differs"
	// DiffHash is the same version with other bytes.
	DiffHash = "hash_differs"
	// DiffPending is an own change the hub has not acknowledged yet: a real
	// difference that the next push resolves.
	DiffPending = "pending"
)

// VerifyReport compares the node's copy with the hub's manifest.
type VerifyReport struct {
	// Equal is true when every owner's count and digest match.
	Equal bool `json:"equal"`
	// HubSeq is the hub's head when the manifest was read; PullCursor is how
	// far this node had pulled. Changes between the two show up as differences.
	HubSeq     int64       `json:"hub_seq"`
	PullCursor int64       `json:"pull_cursor"`
	Owners     []OwnerDiff `json:"owners"`
	// Differences list the entities of owners that differ (the first 1000).
	Differences []Difference `json:"differences"`
	// Pending counts the differences that are own changes waiting to be pushed.
	Pending   int  `json:"pending"`
	Truncated bool `json:"truncated,omitempty"`
}

// OwnerDiff compares one owner's entities.
type OwnerDiff struct {
	Owner      string `json:"owner"`
	Equal      bool   `json:"equal"`
	NodeCount  int    `json:"node_count"`
	HubCount   int    `json:"hub_count"`
	NodeDigest string `json:"node_digest"`
	HubDigest  string `json:"hub_digest"`
}

// Difference is one entity that differs.
type Difference struct {
	Owner string `json:"owner"`
	ID    string `json:"id"`
	// Type is one of the Diff constants; Reason says the same for people.
	Type        string `json:"type"`
	Reason      string `json:"reason"`
	NodeVersion int64  `json:"node_version,omitempty"`
	HubVersion  int64  `json:"hub_version,omitempty"`
}

type localEntry struct {
	id      string
	version int64
	hash    []byte
	pending bool
}

// Verify compares per-owner digests with the hub's manifest and, for owners
// that differ, lists the entities that differ. The digests are computed
// exactly as the hub does: over every entity that has a signed change, in id
// order, with the SHA-256 of the signed change bytes.
func (n *Node) Verify(ctx context.Context) (VerifyReport, error) {
	local := map[string][]localEntry{}
	var cursor int64
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		st, err := readSyncState(ctx, tx)
		if err != nil {
			return err
		}
		cursor = st.PullCursor
		rows, err := tx.QueryContext(ctx, `SELECT id, owner, signed_version, hash, outbox_seq FROM entities
			WHERE change IS NOT NULL ORDER BY id`)
		if err != nil {
			return fmt.Errorf("read entities: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e localEntry
			var owner string
			var outboxSeq int64
			if err := rows.Scan(&e.id, &owner, &e.version, &e.hash, &outboxSeq); err != nil {
				return fmt.Errorf("read entities: %w", err)
			}
			e.pending = owner == n.ident.Node && outboxSeq > st.PushCheckpoint
			local[owner] = append(local[owner], e)
		}
		return rows.Err()
	})
	if err != nil {
		return VerifyReport{}, fmt.Errorf("verify: %w", err)
	}
	m, err := n.client.Manifest(ctx, "")
	if err != nil {
		return VerifyReport{}, fmt.Errorf("verify: %w", err)
	}
	rep := VerifyReport{Equal: true, HubSeq: m.HubSeq, PullCursor: cursor, Owners: []OwnerDiff{}, Differences: []Difference{}}
	hub := make(map[string]protocol.OwnerDigest, len(m.Owners))
	for _, o := range m.Owners {
		hub[o.Owner] = o
	}
	owners := make([]string, 0, len(local)+len(hub))
	for o := range local {
		owners = append(owners, o)
	}
	for o := range hub {
		if _, ok := local[o]; !ok {
			owners = append(owners, o)
		}
	}
	slices.Sort(owners)
	for _, owner := range owners {
		d := protocol.NewDigest()
		for _, e := range local[owner] {
			d.Add(e.id, e.version, e.hash)
		}
		h := hub[owner]
		od := OwnerDiff{Owner: owner, NodeCount: d.Count(), NodeDigest: d.Sum(), HubCount: h.Count, HubDigest: h.Digest}
		if od.HubDigest == "" {
			od.HubDigest = protocol.NewDigest().Sum()
		}
		od.Equal = od.NodeCount == od.HubCount && od.NodeDigest == od.HubDigest
		rep.Owners = append(rep.Owners, od)
		if od.Equal {
			continue
		}
		rep.Equal = false
		var entries []protocol.ManifestEntry
		if h.Count > 0 {
			mo, err := n.client.Manifest(ctx, owner)
			if err != nil {
				return VerifyReport{}, fmt.Errorf("verify %s: %w", owner, err)
			}
			entries = mo.Entries
		}
		for _, diff := range diffOwner(owner, local[owner], entries) {
			if diff.Type == DiffPending {
				rep.Pending++
			}
			if len(rep.Differences) < maxDifferences {
				rep.Differences = append(rep.Differences, diff)
			} else {
				rep.Truncated = true
			}
		}
	}
	return rep, nil
}

// diffOwner lists the entities of one owner that differ, in id order.
func diffOwner(owner string, local []localEntry, hub []protocol.ManifestEntry) []Difference {
	hubByID := make(map[string]protocol.ManifestEntry, len(hub))
	for _, e := range hub {
		hubByID[e.ID] = e
	}
	var out []Difference
	seen := make(map[string]bool, len(local))
	for _, l := range local {
		seen[l.id] = true
		h, ok := hubByID[l.id]
		var typ string
		switch {
		case ok && h.Version == l.version && h.Hash == hex.EncodeToString(l.hash):
			continue
		case l.pending:
			typ = DiffPending
		case !ok:
			typ = DiffMissingOnHub
		case h.Version != l.version:
			typ = DiffVersion
		default:
			typ = DiffHash
		}
		d := Difference{Owner: owner, ID: l.id, Type: typ, NodeVersion: l.version, HubVersion: h.Version}
		d.Reason = d.describe()
		out = append(out, d)
	}
	for _, h := range hub {
		if !seen[h.ID] {
			d := Difference{Owner: owner, ID: h.ID, Type: DiffMissingOnNode, HubVersion: h.Version}
			d.Reason = d.describe()
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Difference) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (d Difference) describe() string {
	switch d.Type {
	case DiffMissingOnNode:
		return fmt.Sprintf("the hub has v%d, this node has nothing", d.HubVersion)
	case DiffMissingOnHub:
		return fmt.Sprintf("this node has v%d, the hub has nothing", d.NodeVersion)
	case DiffVersion:
		return fmt.Sprintf("this node has v%d, the hub has v%d", d.NodeVersion, d.HubVersion)
	case DiffHash:
		return fmt.Sprintf("both have v%d but with different bytes", d.NodeVersion)
	case DiffPending:
		if d.HubVersion == 0 {
			return fmt.Sprintf("v%d is waiting to be pushed; the hub has nothing yet", d.NodeVersion)
		}
		return fmt.Sprintf("v%d is waiting to be pushed; the hub has v%d", d.NodeVersion, d.HubVersion)
	}
	return d.Type
}
