package sampledata

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// TestCommunity_Valid writes every community draft as its SIC's node would,
// with the author the node sets, and checks that each is a valid change
// whose refs point backwards, that the content spans the spaces, languages
// and SICs the demo shows, and that exactly one young person's item waits.
func TestCommunity_Valid(t *testing.T) {
	drafts, err := Community()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	owners := map[string]string{}
	langs, spaces, sics := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var waiting, flags int
	for _, d := range drafts {
		if _, dup := ids[d.Ref]; dup {
			t.Fatalf("%s: ref repeated", d.Ref)
		}
		if !slices.Contains(Nodes(), d.Node) {
			t.Fatalf("%s: node %q is not a demo node", d.Ref, d.Node)
		}
		if !slices.Contains([]string{WriterStaff, WriterYouthCoordinator, WriterYouth}, d.Writer) {
			t.Fatalf("%s: writer %q", d.Ref, d.Writer)
		}
		if d.Waiting && d.Writer != WriterYouth {
			t.Errorf("%s: only a young person's item waits for a coordinator", d.Ref)
		}
		if d.Waiting {
			waiting++
		}
		body, err := Resolve(d.Body, ids)
		if err != nil {
			t.Fatalf("%s: %v", d.Ref, err)
		}
		author := protocol.Author{Name: "Demo Person", SIC: d.Node}
		if d.Writer == WriterYouth {
			author = protocol.Author{Pseudonym: d.Node + "-demo"}
		}
		var fields map[string]any
		if err := json.Unmarshal(body, &fields); err != nil {
			t.Fatal(err)
		}
		if _, ok := fields["author"]; ok && fields["author"] != nil && len(fields["author"].(map[string]any)) > 0 {
			t.Errorf("%s: the body names an author; the node sets it", d.Ref)
		}
		fields["author"] = author
		if body, err = json.Marshal(fields); err != nil {
			t.Fatal(err)
		}
		c := change(t, d.Node, d.Draft, body)
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v\n%s", d.Ref, err, body)
		}
		switch d.Kind {
		case protocol.KindPost:
			var p protocol.Post
			json.Unmarshal(body, &p)
			spaces[p.Space] = true
			langs[p.Language] = true
			if d.On != "" {
				t.Errorf("%s: a post is on nothing", d.Ref)
			}
		case protocol.KindComment:
			var cm protocol.Comment
			json.Unmarshal(body, &cm)
			langs[cm.Language] = true
			if cm.Post != ids[d.On] {
				t.Errorf("%s: answers %s, but On is %s", d.Ref, cm.Post, d.On)
			}
		case protocol.KindFlag:
			flags++
			var f protocol.Flag
			json.Unmarshal(body, &f)
			if f.Target != ids[d.On] || f.Reason != "personal-data" {
				t.Errorf("%s: flag %+v, On %s", d.Ref, f, d.On)
			}
			if owners[d.On] == d.Node {
				t.Errorf("%s: a SIC flags its own item", d.Ref)
			}
		default:
			t.Errorf("%s: kind %s", d.Ref, d.Kind)
		}
		sics[d.Node] = true
		ids[d.Ref] = c.ID
		owners[d.Ref] = d.Node
	}
	if waiting != 1 || flags != 1 {
		t.Errorf("%d items waiting and %d flags, want one of each", waiting, flags)
	}
	for _, l := range []string{"en", "nl", "fr", "fi", "pt"} {
		if !langs[l] {
			t.Errorf("nothing written in %s", l)
		}
	}
	for _, s := range []string{"helplines", "awareness", "hotlines", "youth-participation", protocol.SpaceBlog, protocol.SpaceYouth} {
		if !spaces[s] {
			t.Errorf("no post in %s", s)
		}
	}
	if len(sics) != len(Nodes()) {
		t.Errorf("written by %d SICs, want %d", len(sics), len(Nodes()))
	}
}
