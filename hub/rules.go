package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/bikfed/bikfed/protocol"
)

// Rules between a change and what the hub holds (docs/protocol.md §4):
// a profile speaks for a country its node is bound to, and for one only;
// a comment and a translation agree with the entity they name; nothing of
// a national youth space is taken. They are
// checked in body order, against the stored aggregate and the records of
// the batch applied before them.

// requireCountry refuses a profile, or an event, for a country its node
// may not speak for: a SIC signposts and organises in its own countries.
// It runs on a verifier.
func (h *Hub) requireCountry(it *pushItem, node string) {
	c := it.change
	var body struct {
		Country string `json:"country"`
	}
	if err := json.Unmarshal(c.Body, &body); err != nil {
		it.refusal = &protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version, Code: protocol.CodeInvalidField,
			Reason: fmt.Sprintf("body: %v", err)}
		return
	}
	if c.Kind == protocol.KindProfile {
		it.country = body.Country
	}
	if countries := h.countriesOf(node); !slices.Contains(countries, body.Country) {
		allowed := "none"
		if len(countries) > 0 {
			allowed = fmt.Sprint(countries)
		}
		it.refusal = &protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version, Code: protocol.CodeCountryNotAllowed,
			Reason: fmt.Sprintf("%s may not publish a %s for country %q (its countries: %s); the coordination team binds them at register-node --country",
				node, c.Kind, body.Country, allowed)}
	}
}

// refuseNationalYouth refuses a post of a national youth space. Its node
// keeps such posts to itself; the hub refuses them all the same, so that a
// node that sends one by mistake (or on purpose) cannot publish what its
// young people wrote for their own SIC alone.
func refuseNationalYouth(it *pushItem) {
	c := it.change
	var body struct {
		Space string `json:"space"`
	}
	if err := json.Unmarshal(c.Body, &body); err != nil {
		it.refusal = &protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version, Code: protocol.CodeInvalidField,
			Reason: fmt.Sprintf("body: %v", err)}
		return
	}
	if _, ok := protocol.NationalYouthSIC(body.Space); ok {
		it.refusal = &protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version, Code: protocol.CodeInvalidSpace,
			Reason: fmt.Sprintf("%s is a national youth space: its posts stay on their node and never reach the hub", body.Space)}
	}
}

// liveProfiles is the live profile of each country, kept through a batch.
type liveProfiles struct {
	byCountry map[string]string // country → profile id
	byID      map[string]string // profile id → country
}

// loadProfiles reads the live profiles whose owner is bound to their
// country; one that is not (published before countries were bound) speaks
// for nobody, so it neither holds its country nor shows on the portal.
func (h *Hub) loadProfiles(ctx context.Context, tx *sql.Tx) (*liveProfiles, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, owner, change FROM entities WHERE kind = 'profile' AND deleted = 0 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	defer rows.Close()
	lp := &liveProfiles{byCountry: map[string]string{}, byID: map[string]string{}}
	for rows.Next() {
		var id, owner string
		var raw []byte
		if err := rows.Scan(&id, &owner, &raw); err != nil {
			return nil, fmt.Errorf("read profiles: %w", err)
		}
		var c struct {
			Body struct {
				Country string `json:"country"`
			} `json:"body"`
		}
		if json.Unmarshal(raw, &c) != nil || !slices.Contains(h.countriesOf(owner), c.Body.Country) {
			continue
		}
		if _, taken := lp.byCountry[c.Body.Country]; !taken {
			lp.byCountry[c.Body.Country] = id
		}
		lp.byID[id] = c.Body.Country
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	return lp, nil
}

// claim refuses a second live profile for a country, or records c as its
// country's profile.
func (lp *liveProfiles) claim(c *protocol.Change, country string) *protocol.Error {
	if c.Deleted {
		if old, ok := lp.byID[c.ID]; ok && lp.byCountry[old] == c.ID {
			delete(lp.byCountry, old)
		}
		delete(lp.byID, c.ID)
		return nil
	}
	if id, ok := lp.byCountry[country]; ok && id != c.ID {
		return protocol.Errorf(protocol.CodeCountryTaken, "%s already has a live profile, %s: update that one, or delete it first", country, id)
	}
	if old, ok := lp.byID[c.ID]; ok && old != country && lp.byCountry[old] == c.ID {
		delete(lp.byCountry, old)
	}
	lp.byCountry[country], lp.byID[c.ID] = c.ID, country
	return nil
}

// checkRules applies the rules between entities to one record about to be
// applied: its profile's country, or the entity its comment, flag or
// translation names, which the stored-versions query of its chunk has read into
// st.have with the batch's records before it.
func (st *applyState) checkRules(ctx context.Context, tx *sql.Tx, it *pushItem) (*protocol.Error, error) {
	c := it.change
	switch c.Kind {
	case protocol.KindProfile:
		if st.profiles == nil {
			var err error
			if st.profiles, err = st.h.loadProfiles(ctx, tx); err != nil {
				return nil, err
			}
		}
		return st.profiles.claim(c, it.country), nil
	case protocol.KindComment, protocol.KindTranslation, protocol.KindFlag:
		if c.Deleted {
			return nil, nil
		}
		var t *protocol.Target
		if s, ok := st.have[it.ref]; ok && s.version > 0 {
			t = &protocol.Target{Kind: protocol.Kind(s.kind), Version: s.version, Visibility: protocol.Visibility(s.visibility),
				Deleted: s.deleted, PublishAt: s.publishAt}
		}
		if t == nil && c.Kind != protocol.KindTranslation && c.Visibility == protocol.VisibilityYouth {
			// A node pushes its own post before any comment or flag on
			// it, so a youth comment or flag on an own entity the hub
			// never had is, as far as the hub can tell, in the node's
			// national youth space.
			if owner, err := protocol.SplitEntityID(it.ref); err == nil && owner == c.Owner {
				return protocol.Errorf(protocol.CodeInvalidSpace, "the hub does not hold %s, an entity of %s's own: a %s in a national youth space stays on its node", it.ref, c.Owner, c.Kind), nil
			}
		}
		if t == nil && c.Kind == protocol.KindFlag {
			// The hub holds every shared post and comment: a flag on
			// anything else names nothing a moderator could look at.
			return protocol.Errorf(protocol.CodeInvalidSource, "the flagged entity %s does not exist", it.ref), nil
		}
		return protocol.CheckReference(c, t, st.now), nil
	}
	return nil, nil
}
