package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bikfed/bikfed/protocol"
)

// The rules between entities (docs/protocol.md §4) are the hub's to
// enforce; the node checks them too when its editors write, so a change
// the hub would refuse is never signed and editors hear of it at once.

// countries returns the countries this node may publish a profile for.
func (id Identity) countries() []string {
	if id.Countries != nil {
		return id.Countries
	}
	return protocol.DefaultCountries(id.Node)
}

// checkRules refuses c when it breaks a rule that depends on other
// entities: a profile's country, a comment's post, a translation's resource.
func (a *author) checkRules(ctx context.Context, c *protocol.Change) error {
	if c.Deleted {
		return nil
	}
	switch c.Kind {
	case protocol.KindProfile:
		return a.checkProfile(ctx, c)
	case protocol.KindEvent:
		return a.checkEventCountry(c)
	case protocol.KindComment, protocol.KindTranslation, protocol.KindFlag:
		var ref struct {
			Post     string `json:"post"`
			Resource string `json:"resource"`
			Target   string `json:"target"`
		}
		if err := json.Unmarshal(c.Body, &ref); err != nil {
			return fieldError("body", "%v", err)
		}
		target := ref.Post
		switch c.Kind {
		case protocol.KindTranslation:
			target = ref.Resource
		case protocol.KindFlag:
			target = ref.Target
		}
		var t *protocol.Target
		r, err := getEntityTx(ctx, a.tx, target)
		switch {
		case err == nil:
			t = &protocol.Target{Kind: r.Kind, Version: r.Version, Visibility: r.Visibility, Deleted: r.Deleted, PublishAt: r.PublishAt}
			if r.scheduled {
				// The network has only the last signed version.
				t.Version = r.signedVersion
			}
			if r.Kind == protocol.KindComment && !r.Deleted && c.Kind == protocol.KindFlag {
				// A flag on a comment stays where the comment's post is.
				var comment struct {
					Post string `json:"post"`
				}
				if json.Unmarshal(r.Body, &comment) == nil {
					if p, err := getEntityTx(ctx, a.tx, comment.Post); err == nil {
						r = p // for the space, below
					}
				}
			}
			if r.Kind == protocol.KindPost && !r.Deleted {
				var post struct {
					Space string `json:"space"`
				}
				if json.Unmarshal(r.Body, &post) == nil {
					t.Space = post.Space
				}
			}
		case !errors.Is(err, protocol.ErrNotFound):
			return err
		}
		if perr := protocol.CheckReference(c, t, a.now); perr != nil {
			perr.Record = c.ID
			return perr
		}
	}
	return nil
}

// checkEventCountry refuses an event organised in a country this node does
// not speak for, as the hub would.
func (a *author) checkEventCountry(c *protocol.Change) error {
	_, err := a.checkCountry(c, "an event")
	return err
}

// checkCountry refuses a change whose body names a country this node may
// not speak for (what is "a profile", "an event"), and returns the country.
func (a *author) checkCountry(c *protocol.Change, what string) (string, error) {
	var body struct {
		Country string `json:"country"`
	}
	if err := json.Unmarshal(c.Body, &body); err != nil {
		return "", fieldError("body", "%v", err)
	}
	if countries := a.n.ident.countries(); !slices.Contains(countries, body.Country) {
		allowed := "none"
		if len(countries) > 0 {
			allowed = strings.Join(countries, ", ")
		}
		return "", &protocol.Error{Code: protocol.CodeCountryNotAllowed, Record: c.ID,
			Message: fmt.Sprintf("this node may not publish %s for country %q (its countries: %s); the hub's coordination team binds them", what, body.Country, allowed)}
	}
	return body.Country, nil
}

// checkProfile refuses a profile for a country the node may not speak for,
// or a second live profile of its own for a country.
func (a *author) checkProfile(ctx context.Context, c *protocol.Change) error {
	country, err := a.checkCountry(c, "a profile")
	if err != nil {
		return err
	}
	rows, err := a.tx.QueryContext(ctx, `SELECT id, body FROM entities WHERE owner = ? AND kind = 'profile' AND deleted = 0 AND id != ?`, c.Owner, c.ID)
	if err != nil {
		return fmt.Errorf("read profiles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return fmt.Errorf("read profiles: %w", err)
		}
		var other struct {
			Country string `json:"country"`
		}
		if json.Unmarshal(raw, &other) == nil && other.Country == country {
			return &protocol.Error{Code: protocol.CodeCountryTaken, Record: c.ID,
				Message: fmt.Sprintf("%s already has a live profile, %s: update that one, or delete it first", country, id)}
		}
	}
	return rows.Err()
}
