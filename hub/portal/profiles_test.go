package portal

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// A country's profile on the portal is its own SIC's, whatever else claims
// the country, and the same one at every index generation.
func TestPortal_ProfilesOfBoundOwners(t *testing.T) {
	now := time.Now().UTC()
	src := &memSource{}
	add := func(owner, country, name string) {
		id, err := protocol.NewEntityID(owner, now)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(protocol.Profile{Country: country, Name: name, Languages: []string{"en"}})
		raw, _ := json.Marshal(&protocol.Change{Protocol: protocol.Version, ID: id, Kind: protocol.KindProfile, Owner: owner, Version: 1,
			Seq: 1, UpdatedAt: now, Visibility: protocol.VisibilityPublic, Body: body, KeyID: owner + "-0123456789abcdef"})
		src.changes = append(src.changes, Change{HubSeq: int64(len(src.changes) + 1), Raw: raw})
	}
	add("fi", "be", "Hijacked helpline")
	add("be", "be", "Child Focus")
	add("fi", "fi", "FISIC")
	add("xx-relay", "pt", "Unbound")
	p := runIndexer(t, src)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := p.WaitIndexed(ctx, int64(len(src.changes))); err != nil {
		t.Fatal(err)
	}
	s := p.profiles(context.Background())
	if pv := s.country("be"); pv == nil || pv.Owner != "be" || pv.Name != "Child Focus" {
		t.Fatalf("profile of be = %+v, want Child Focus's", pv)
	}
	if s.country("pt") != nil {
		t.Fatal("a profile of a node not bound to pt is shown for pt")
	}
	if len(s.list) != 2 {
		t.Fatalf("directory lists %d profiles, want be and fi", len(s.list))
	}
	if got := s.publisher(p.langs.en, "fi"); got != "FISIC" {
		t.Fatalf("publisher fi = %q, want its own profile's name", got)
	}
	// A SIC whose profile has not arrived is named by its country, in the
	// page's language.
	fr := p.langs.bundle.Printer("fr")
	if got := s.publisher(fr, "de"); got != "Safer Internet Centre (Allemagne)" {
		t.Fatalf("publisher de in French = %q", got)
	}
}
