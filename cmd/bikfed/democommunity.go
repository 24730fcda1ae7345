package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// demoCommunity counts what the demo wrote in the community, for its
// summary.
type demoCommunity struct {
	threads, blogs, replies, youth, waiting, flags int
	// waitingAt is the SIC whose coordinator has an item to approve.
	waitingAt string
}

// writeCommunity writes the sample community as the demo's people: staff
// and youth coordinators through CreateAs, young people through Hold and
// their coordinator's ApproveHeld (but for the item left waiting). A draft
// that answers or flags another SIC's item written since the last sync
// needs that item on its node first: syncAll brings it there.
func writeCommunity(ctx context.Context, nodes map[string]*node.Node, people map[string][]demoInvitation, syncAll func() error) (demoCommunity, error) {
	var sum demoCommunity
	drafts, err := sampledata.Community()
	if err != nil {
		return sum, err
	}
	member := func(sic, role string) (int64, error) {
		for _, p := range people[sic] {
			if p.role == role {
				return p.id, nil
			}
		}
		return 0, fmt.Errorf("demo community: %s has no %s", sic, role)
	}
	ids := map[string]string{}
	written := map[string]string{} // ref → its SIC, for what no other node holds yet
	for _, d := range drafts {
		if sic, ok := written[d.On]; ok && sic != d.Node {
			if err := syncAll(); err != nil {
				return sum, err
			}
			clear(written)
		}
		n := nodes[d.Node]
		if n == nil {
			return sum, fmt.Errorf("demo community %s: no node %s", d.Ref, d.Node)
		}
		body, err := sampledata.Resolve(d.Body, ids)
		if err != nil {
			return sum, fmt.Errorf("demo community %s: %w", d.Ref, err)
		}
		writer, err := member(d.Node, d.Writer)
		if err != nil {
			return sum, err
		}
		draft := node.Draft{Kind: d.Kind, Visibility: d.Visibility, Body: body}
		var id string
		if d.Writer == sampledata.WriterYouth {
			held, err := n.Hold(ctx, writer, draft)
			if err != nil {
				return sum, fmt.Errorf("demo community %s: hold: %w", d.Ref, err)
			}
			if d.Waiting {
				sum.waiting++
				sum.waitingAt = d.Node
				continue
			}
			coordinator, err := member(d.Node, sampledata.WriterYouthCoordinator)
			if err != nil {
				return sum, err
			}
			if held, err = n.ApproveHeld(ctx, held.ID, coordinator); err != nil {
				return sum, fmt.Errorf("demo community %s: approve: %w", d.Ref, err)
			}
			id = held.EntityID
		} else {
			e, err := n.CreateAs(ctx, writer, draft)
			if err != nil {
				return sum, fmt.Errorf("demo community %s: %w", d.Ref, err)
			}
			id = e.ID
		}
		ids[d.Ref] = id
		written[d.Ref] = d.Node
		switch {
		case d.Kind == protocol.KindFlag:
			sum.flags++
		case d.Visibility == protocol.VisibilityYouth:
			sum.youth++
		case d.Kind == protocol.KindComment:
			sum.replies++
		case d.Kind == protocol.KindPost && postFormat(body) == "blog":
			sum.blogs++
		default:
			sum.threads++
		}
	}
	return sum, nil
}

// postFormat is a post body's format: "blog" or "thread".
func postFormat(body []byte) string {
	var p struct {
		Format string `json:"format"`
	}
	json.Unmarshal(body, &p)
	return p.Format
}
