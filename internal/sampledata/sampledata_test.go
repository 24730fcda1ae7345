package sampledata

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// change builds the change an owner would create from a resolved draft.
func change(t *testing.T, owner string, d Draft, body json.RawMessage) protocol.Change {
	t.Helper()
	u, err := protocol.NewULID(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.Change{
		Protocol:   protocol.Version,
		ID:         owner + ":" + u,
		Kind:       d.Kind,
		Owner:      owner,
		Version:    1,
		Seq:        1,
		UpdatedAt:  time.Now().UTC(),
		Visibility: d.Visibility,
		PublishAt:  d.PublishAt,
		Body:       body,
		KeyID:      owner + "-0000000000000000",
	}
}

type created struct {
	draft Draft
	body  json.RawMessage
}

// createAll turns every draft of node into a valid change, in file order, the
// way a node seeding its store does, and returns them keyed by entity id.
func createAll(t *testing.T, node string) (byID map[string]created, order []string) {
	t.Helper()
	drafts, err := Drafts(node)
	if err != nil {
		t.Fatal(err)
	}
	if len(drafts) == 0 {
		t.Fatalf("%s: no drafts", node)
	}
	ids := make(map[string]string)
	byID = make(map[string]created)
	for _, d := range drafts {
		if _, dup := ids[d.Ref]; dup {
			t.Fatalf("%s: ref %q repeated", node, d.Ref)
		}
		// Only earlier refs are in ids, so this also proves refs point backwards.
		body, err := Resolve(d.Body, ids)
		if err != nil {
			t.Fatalf("%s: %s: %v", node, d.Ref, err)
		}
		c := change(t, node, d, body)
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %s: %v\n%s", node, d.Ref, err, body)
		}
		// The change as it would travel must parse back strictly too.
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := protocol.ParseChange(raw); err != nil {
			t.Fatalf("%s: %s: parse: %v", node, d.Ref, err)
		}
		ids[d.Ref] = c.ID
		byID[c.ID] = created{d, body}
		order = append(order, c.ID)
	}
	return byID, order
}

func TestDraftsValidate(t *testing.T) {
	allRefs := make(map[string]string)
	for _, node := range append(Nodes(), protocol.HubID) {
		drafts, err := Drafts(node)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range drafts {
			if !strings.HasPrefix(d.Ref, node+"-") {
				t.Errorf("%s: ref %q does not start with %q", node, d.Ref, node+"-")
			}
			if other, dup := allRefs[d.Ref]; dup {
				t.Errorf("ref %q in both %s and %s", d.Ref, other, node)
			}
			allRefs[d.Ref] = node
		}
		createAll(t, node)
	}
}

// contentLanguages are the languages each node's content must cover.
var contentLanguages = map[string][]string{
	"be": {"nl", "fr", "de"},
	"fi": {"fi", "sv", "en"},
	"pt": {"pt", "en"},
}

func TestNodeContent(t *testing.T) {
	sid := time.Date(2027, 2, 9, 9, 0, 0, 0, time.UTC)
	if got := Nodes(); !reflect.DeepEqual(got, []string{"be", "fi", "pt"}) {
		t.Fatalf("Nodes() = %v", got)
	}
	for _, node := range Nodes() {
		t.Run(node, func(t *testing.T) {
			byID, order := createAll(t, node)
			count := make(map[string]int)
			seenLangs := make(map[string]bool)
			for _, id := range order {
				c := byID[id]
				d := c.draft
				body, err := protocol.DecodeBody(d.Kind, c.body)
				if err != nil {
					t.Fatal(err)
				}
				switch b := body.(type) {
				case *protocol.Resource:
					count["resource"]++
					seenLangs[b.Language] = true
					if b.Licence == "" || !strings.HasPrefix(b.URL, "https://") && len(d.Files) == 0 {
						t.Errorf("%s: resource without licence, or without https URL or attachment", d.Ref)
					}
					if b.Type == "video" && len(d.Files) > 0 {
						var types []string
						for _, f := range d.Files {
							_, mt, err := File(f)
							if err != nil {
								t.Fatal(err)
							}
							types = append(types, mt)
						}
						if !slices.Contains(types, "video/webm") || !slices.Contains(types, "text/vtt") || !slices.Contains(types, "image/png") {
							t.Errorf("%s: a video resource without its video, captions and poster: %v", d.Ref, types)
						}
					}
					if d.PublishAt != nil {
						count["embargoed"]++
						if !d.PublishAt.Equal(sid) || !slices.Contains(b.Minisites, "sid") {
							t.Errorf("%s: embargoed resource should be published on Safer Internet Day 2027 and tagged sid", d.Ref)
						}
					}
				case *protocol.Translation:
					count["translation"]++
					seenLangs[b.Language] = true
					src, ok := byID[b.Resource]
					if !ok || src.draft.Kind != protocol.KindResource {
						t.Fatalf("%s: translates %q, not a resource of this node", d.Ref, b.Resource)
					}
					var res protocol.Resource
					if err := json.Unmarshal(src.body, &res); err != nil {
						t.Fatal(err)
					}
					if res.Language == b.Language {
						t.Errorf("%s: translation into the resource's own language %s", d.Ref, b.Language)
					}
					if !slices.Contains(contentLanguages[node], b.Language) {
						t.Errorf("%s: translation into %s, not a language of %s", d.Ref, b.Language, node)
					}
					count["method-"+b.Method]++
				case *protocol.Post:
					count["post-"+string(d.Visibility)]++
				case *protocol.Comment:
					count["comment"]++
					if p, ok := byID[b.Post]; !ok || p.draft.Kind != protocol.KindPost {
						t.Errorf("%s: comments on %q, not a post of this node", d.Ref, b.Post)
					}
				case *protocol.Profile:
					count["profile"]++
					if b.Country != node {
						t.Errorf("%s: profile country %q", d.Ref, b.Country)
					}
					if b.Awareness == nil || b.Helpline == nil || b.Hotline == nil || b.YouthPanel == nil {
						t.Errorf("%s: profile lacks a strand", d.Ref)
					}
				case *protocol.Event:
					count["event-"+strconv.Itoa(b.Edition)]++
					if b.Country != node {
						t.Errorf("%s: event organised in %q", d.Ref, b.Country)
					}
					// The organiser's own zone, on the edition's day there.
					loc, err := time.LoadLocation(b.TimeZone)
					if err != nil {
						t.Fatal(err)
					}
					if day := b.Start.In(loc).Format(time.DateOnly); day != protocol.SIDDate(b.Edition).Format(time.DateOnly) {
						t.Errorf("%s: starts on %s in %s, not on Safer Internet Day %d", d.Ref, day, b.TimeZone, b.Edition)
					}
				default:
					t.Errorf("%s: unexpected kind %s on a national node", d.Ref, d.Kind)
				}
			}
			if n := count["resource"]; n < 5 || n > 7 {
				t.Errorf("%d resources, want 5-7", n)
			}
			if n := count["translation"]; n < 2 || n > 4 {
				t.Errorf("%d translations, want 2-4", n)
			}
			if count["method-human"]+count["method-post-edited"] == 0 || count["method-machine"]+count["method-post-edited"] == 0 {
				t.Errorf("translations should mix human and machine work: %v", count)
			}
			for _, k := range []string{"embargoed", "profile", "post-youth", "post-community"} {
				if count[k] != 1 {
					t.Errorf("%d %s, want 1", count[k], k)
				}
			}
			if count["event-2027"] < 1 || count["event-2027"]+count["event-2026"] < 2 {
				t.Errorf("events: %d of 2027 and %d of 2026, want one of 2027 at least, and two in all", count["event-2027"], count["event-2026"])
			}
			if count["comment"] != 2 {
				t.Errorf("%d comments, want 2", count["comment"])
			}
			for _, l := range contentLanguages[node] {
				if !seenLangs[l] {
					t.Errorf("no resource or translation in %s", l)
				}
			}
		})
	}
}

func TestHubContent(t *testing.T) {
	byID, order := createAll(t, protocol.HubID)
	services, news := 0, 0
	for _, id := range order {
		c := byID[id]
		switch c.draft.Kind {
		case protocol.KindService:
			services++
		case protocol.KindPost:
			var p protocol.Post
			if err := json.Unmarshal(c.body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Space != "news" || c.draft.Visibility != protocol.VisibilityPublic {
				t.Errorf("%s: hub post in %s, %s", c.draft.Ref, p.Space, c.draft.Visibility)
			}
			news++
		default:
			t.Errorf("%s: unexpected kind %s on the hub", c.draft.Ref, c.draft.Kind)
		}
	}
	if services < 5 || news != 2 {
		t.Errorf("%d services and %d news posts, want about 6 and 2", services, news)
	}
}

func TestDraftsUnknownNode(t *testing.T) {
	for _, node := range []string{"", "xx", "../be", "be.ndjson"} {
		if _, err := Drafts(node); err == nil {
			t.Errorf("Drafts(%q) succeeded", node)
		}
	}
}

func TestResolve(t *testing.T) {
	ids := map[string]string{"be-res-1": "be:01J0000000000000000000000A", "be-post-1": "be:01J0000000000000000000000B"}
	in := `{"resource": "@be-res-1", "@be-res-1": "key stays",
  "list": ["@be-post-1", {"deep": "@be-res-1"}, 3, true, null],
  "text": "mail a@b.be or @ 9:00, \"@be-res-1\" quoted", "handle": "@Anna", "at": "@", "esc": "\u00e9\\"}`
	want := `{"resource": "be:01J0000000000000000000000A", "@be-res-1": "key stays",
  "list": ["be:01J0000000000000000000000B", {"deep": "be:01J0000000000000000000000A"}, 3, true, null],
  "text": "mail a@b.be or @ 9:00, \"@be-res-1\" quoted", "handle": "@Anna", "at": "@", "esc": "\u00e9\\"}`
	got, err := Resolve(json.RawMessage(in), ids)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("Resolve:\n got %s\nwant %s", got, want)
	}

	_, err = Resolve(json.RawMessage(`{"post": "@fi-post-9"}`), ids)
	if err == nil || !strings.Contains(err.Error(), `"fi-post-9"`) {
		t.Errorf("unknown ref: err = %v, want one naming fi-post-9", err)
	}
	if _, err := Resolve(json.RawMessage(`{"post": "@be-res-1"`), ids); err == nil {
		t.Error("invalid JSON accepted")
	}
	if got, err := Resolve(json.RawMessage(`"@be-res-1"`), ids); err != nil || string(got) != `"be:01J0000000000000000000000A"` {
		t.Errorf("top-level string: %s, %v", got, err)
	}
}

func TestSynthetic(t *testing.T) {
	const n = 300
	drafts := Synthetic("be", n, 42)
	if len(drafts) != n {
		t.Fatalf("%d drafts, want %d", len(drafts), n)
	}
	if !reflect.DeepEqual(drafts, Synthetic("be", n, 42)) {
		t.Error("same seed gave different drafts")
	}
	if reflect.DeepEqual(drafts, Synthetic("be", n, 43)) {
		t.Error("different seeds gave the same drafts")
	}
	if len(Synthetic("be", 0, 42)) != 0 {
		t.Error("n = 0 gave drafts")
	}
	refs := make(map[string]bool)
	langs := make(map[string]bool)
	total := 0
	for _, d := range drafts {
		if refs[d.Ref] {
			t.Errorf("ref %q repeated", d.Ref)
		}
		refs[d.Ref] = true
		if d.Kind != protocol.KindResource || d.Visibility != protocol.VisibilityPublic || d.PublishAt != nil {
			t.Errorf("%s: %s %s %v, want a public resource", d.Ref, d.Kind, d.Visibility, d.PublishAt)
		}
		if strings.Contains(string(d.Body), `"@`) {
			t.Errorf("%s: body has a ref", d.Ref)
		}
		c := change(t, "be", d, d.Body)
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v\n%s", d.Ref, err, d.Body)
		}
		var r protocol.Resource
		if err := json.Unmarshal(d.Body, &r); err != nil {
			t.Fatal(err)
		}
		if l := len(r.Description); l < 680 || l > 900 {
			t.Errorf("%s: description of %d bytes, want about 700-900", d.Ref, l)
		}
		if l := len(d.Body); l < 850 || l > 1300 {
			t.Errorf("%s: body of %d bytes, want about 1 KB", d.Ref, l)
		}
		total += len(d.Body)
		langs[r.Language] = true
	}
	if avg := total / n; avg < 950 || avg > 1200 {
		t.Errorf("average body %d bytes, want about 1 KB", avg)
	}
	if len(langs) < 5 {
		t.Errorf("only %d languages in %d drafts", len(langs), n)
	}
}

func BenchmarkSynthetic(b *testing.B) {
	for b.Loop() {
		Synthetic("be", 1000, 1)
	}
}

// TestFiles: the demo has a video resource to play, with its file, and
// every attachment a draft names exists with a media type the portal knows.
func TestFiles(t *testing.T) {
	videos := 0
	for _, node := range Nodes() {
		drafts, err := Drafts(node)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range drafts {
			if len(d.Files) > 0 && strings.Contains(string(d.Body), `"type": "video"`) {
				videos++
			}
		}
	}
	if videos == 0 {
		t.Error("no sample video with its file")
	}
	for _, name := range []string{"../be.ndjson", "missing.webm", "sterk-wachtwoord.exe"} {
		if _, _, err := File(name); err == nil {
			t.Errorf("File(%q) succeeded", name)
		}
	}
}

// The sample editions are valid hub bulletins whose items point at public
// resources and news of the other files, each edition in English, French
// and German, with a note for every item in every language.
func TestBulletins(t *testing.T) {
	ids := map[string]string{}
	kinds := map[string]protocol.Kind{}
	for _, node := range append(Nodes(), protocol.HubID) {
		byID, order := createAll(t, node)
		for _, id := range order {
			c := byID[id]
			ids[c.draft.Ref], kinds[c.draft.Ref] = id, c.draft.Kind
			if c.draft.Visibility != protocol.VisibilityPublic {
				kinds[c.draft.Ref] = ""
			}
		}
	}
	drafts, err := Bulletins()
	if err != nil {
		t.Fatal(err)
	}
	if len(drafts) != 2 {
		t.Fatalf("%d editions, want 2", len(drafts))
	}
	for _, d := range drafts {
		body, err := Resolve(d.Body, ids)
		if err != nil {
			t.Fatalf("%s: %v", d.Ref, err)
		}
		c := change(t, protocol.HubID, d, body)
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", d.Ref, err)
		}
		var b protocol.Bulletin
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatal(err)
		}
		if got := b.Languages(); !reflect.DeepEqual(got, []string{"en", "fr", "de"}) {
			t.Errorf("%s: languages %v", d.Ref, got)
		}
		var raw struct {
			Items []struct{ Kind, Ref string } `json:"items"`
		}
		json.Unmarshal(d.Body, &raw)
		for i, it := range raw.Items {
			ref := strings.TrimPrefix(it.Ref, "@")
			want := protocol.KindResource
			if it.Kind == "news" {
				want = protocol.KindPost
			}
			if kinds[ref] != want {
				t.Errorf("%s: item %d points at %s, a %q, not a public %s", d.Ref, i, ref, kinds[ref], want)
			}
		}
		for _, v := range b.Versions {
			if len(v.Notes) != len(b.Items) {
				t.Errorf("%s: the %s version has %d notes for %d items", d.Ref, v.Language, len(v.Notes), len(b.Items))
			}
		}
	}
}
