package portal

import (
	"database/sql"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	_ "modernc.org/sqlite"
)

// testLabels is the label index of the portal's catalogues.
func testLabels(t testing.TB) *labelIndex {
	t.Helper()
	il, err := loadInterfaceLangs()
	if err != nil {
		t.Fatal(err)
	}
	return newLabelIndex(il)
}

func TestSearchExpr(t *testing.T) {
	labels := testLabels(t)
	indexed := []string{"cyberbullying", "cyber", "bullying", "safer", "internet", "saferinternet", "harcelement"}
	known := func(w string) bool { return slices.Contains(indexed, w) }
	// A topic's forms in text are tested below; here one stands for all.
	forms := func(r vocabRef) []string {
		if r.f == facetTopic {
			return []string{`"` + r.term + ` label"`}
		}
		return nil
	}
	for _, c := range []struct{ in, want string }{
		{"cyber bullying ", `(("cyber" AND "bullying") OR "cyberbullying" OR "0vtcyberbullying" OR "cyberbullying label")`},
		{"Cyber-Bullying ", `(("Cyber" AND "Bullying") OR "cyberbullying" OR "0vtcyberbullying" OR "cyberbullying label")`},
		{"cyberbullying ", `("cyberbullying" OR "cyber bullying" OR "0vtcyberbullying" OR "cyberbullying label")`},
		{"Cyberharcèlement ", `("Cyberharcèlement" OR "cyber harcelement" OR "0vtcyberbullying" OR "cyberbullying label")`},
		{"cyberharcelement ", `("cyberharcelement" OR "cyber harcelement" OR "0vtcyberbullying" OR "cyberbullying label")`},
		{"Cybermobbing ", `("Cybermobbing" OR "0vtcyberbullying" OR "cyberbullying label")`},
		{"tips for parents ", `"tips" AND "for" AND ("parents" OR "0vaparents")`},
		{"safer internet day ", `(("safer" AND "internet") OR "saferinternet") AND "day"`},
		{"cyber bully", `"cyber" AND "bully"*`},
		{`"NEAR(a b)" OR title:x*`, `"NEAR" AND "a" AND "b" AND "OR" AND "title" AND "x"`},
		{"l'école numérique", `"l" AND "école" AND "numérique"*`},
		{"ab", `"ab"`},
		{"***", ""},
	} {
		want := c.want
		if got := searchExprForms(c.in, labels, known, true, forms); got != want {
			t.Errorf("searchExpr(%q, prefix) = %s, want %s", c.in, got, want)
		}
		if got, want := searchExprForms(c.in, labels, known, false, forms), strings.ReplaceAll(want, "*", ""); got != want {
			t.Errorf("searchExpr(%q) = %s, want %s", c.in, got, want)
		}
	}
	// A topic is named in text by its label in every language, and by a
	// one-word label's parts where the index holds them.
	got := labelForms(labels, vocabRef{facetTopic, "cyberbullying"}, known)
	for _, f := range []string{`"cyberbullying"`, `"cyber bullying"`, `"cybermobbing"`, `"cyberharcelement"`, `"patycios internete"`, `"кибертормоз"`} {
		if !slices.Contains(got, f) {
			t.Errorf("forms of cyberbullying %v lack %s", got, f)
		}
	}
	if got := labelForms(labels, vocabRef{facetAudience, "parents"}, known); got != nil {
		t.Errorf("an audience has forms in text: %v", got)
	}
}

func TestVocabToken(t *testing.T) {
	// The tokenizer must keep a tag token whole, and tokens must differ
	// wherever terms do.
	seen := map[string]string{}
	for _, k := range labelKinds {
		for _, term := range k.terms {
			tok := vocabToken(k.f, term)
			if w := foldedWords(tok); len(w) != 1 || w[0] != tok {
				t.Errorf("vocabToken(%s) = %q splits into %q", term, tok, w)
			}
			if other, dup := seen[tok]; dup {
				t.Errorf("%s and %s share the token %q", term, other, tok)
			}
			seen[tok] = term
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b  string
		limit int
		want  int
	}{
		{"bulying", "bullying", 2, 1}, {"cyberbulling", "cyberbullying", 2, 1}, {"privcay", "privacy", 2, 1},
		{"grooming", "grooming", 2, 0}, {"kitten", "sitting", 2, 3}, {"a", "abcd", 2, 3}, {"sextorsion", "sextortion", 1, 1},
	} {
		if got := editDistance([]rune(c.a), []rune(c.b), c.limit); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// FuzzFTSQuery checks that no visitor text makes an FTS5 query that fails,
// whatever labels and compounds it holds.
func FuzzFTSQuery(f *testing.F) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE VIRTUAL TABLE t USING fts5 (title, description, translations, tags, content = '', contentless_delete = 1,
		tokenize = 'unicode61 remove_diacritics 2'); INSERT INTO t (rowid, title, description, translations, tags) VALUES (1, 'Privacy online', 'sécurité', '', '0vtprivacy')`); err != nil {
		f.Fatal(err)
	}
	labels := testLabels(f)
	// Every other word is in the index, so joins and splits are tried.
	known := func(w string) bool { return len(w)%2 == 0 }
	for _, s := range []string{"privacy", `"`, `a OR b`, `NEAR(x y, 2)`, `title:x`, `{title}: y`, `^a`, `a*`, `(`, `-x`, `AND`, "\x00", "é́", "🙂 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		expr, prefixed := searchExpr(text, labels, known, false), searchExpr(text, labels, known, true)
		for _, q := range []string{expr, prefixed, "{title} : (" + expr + ")", "{title} : (" + prefixed + ")"} {
			if q == "{title} : ()" {
				continue
			}
			if q == "" {
				continue
			}
			rows, err := db.Query(`SELECT rowid FROM t WHERE t MATCH ?`, q)
			if err != nil {
				t.Fatalf("searchExpr(%q) = %s fails: %v", text, q, err)
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("searchExpr(%q) = %s fails: %v", text, q, err)
			}
			rows.Close()
		}
	})
}

// FuzzOAIToken checks that any resumption token is either refused or a
// consistent harvest position, and that tokens survive a round trip.
func FuzzOAIToken(f *testing.F) {
	key := []byte("a key of 32 bytes for the fuzzer")
	f.Add(oaiToken{Verb: "ListRecords", Prefix: "oai_dc", After: 5, Bound: 9, Cursor: 100, Total: 300}.encode(key))
	f.Add(oaiToken{Verb: "ListIdentifiers", Prefix: "oai_dc", Set: "sic:be", From: 1, Until: 2, Bound: 1, Total: 1}.encode(key))
	f.Add(oaiToken{Verb: "ListRecords", Prefix: "lom", Set: "type:game", After: 3, Bound: 40, Cursor: 100, Total: 120}.encode(key))
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodeOAIToken(s, key)
		if err != nil {
			return
		}
		if _, known := oaiFormatFor(tok.Prefix); tok.Bound < tok.After || tok.Total < tok.Cursor || !known {
			t.Fatalf("accepted an inconsistent token %+v", tok)
		}
		again, err := decodeOAIToken(tok.encode(key), key)
		if err != nil || again != tok {
			t.Fatalf("round trip: %+v → %+v, %v", tok, again, err)
		}
	})
}

// FuzzParseQuery checks that a gallery query never escapes its limits.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"q=privacy&lang=nl&age=6-9&page=2", "lang=xx-&topic=nope&age=99-1", "sort=title&per_page=100&country=be&country=fi", "q=%ff%fe",
		"q=a+b%26c&sort=oldest&minisite=sid&minisite=pocc&type=game&topic=privacy&audience=parents&age=7&page=3&per_page=5&lang=fi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, strict := range []bool{false, true} {
			q, err := parseQuery(v, "", strict)
			if err != nil {
				if !strict {
					t.Fatalf("lenient parse failed: %v", err)
				}
				continue
			}
			if len(q.Text) > maxQueryText || !utf8.ValidString(q.Text) || q.Page < 1 || q.Page > maxPage || q.PerPage < 1 || q.PerPage > maxPerPage {
				t.Fatalf("query out of bounds: %+v", q)
			}
			if q.AgeLo > q.AgeHi || q.AgeHi > maxAge {
				t.Fatalf("age out of bounds: %+v", q)
			}
			for f, vals := range q.vals {
				if len(vals) > maxFacetValues {
					t.Fatalf("facet %d has %d values", f, len(vals))
				}
				for _, val := range vals {
					if _, ok := canonicalValue(facet(f), val); !ok {
						t.Fatalf("facet %d kept %q", f, val)
					}
				}
			}
			if len(searchTerms(q.Text)) > maxQueryTerms {
				t.Fatal("too many terms")
			}
			// The canonical form parses back to itself.
			again, err := parseQuery(q.encode(), "", true)
			if err != nil || again.encode().Encode() != q.encode().Encode() {
				t.Fatalf("canonical form %q does not round-trip: %v", q.encode().Encode(), err)
			}
			// Toggling a value takes it out or puts it in its place.
			for f := range numFacets {
				for _, val := range append(slices.Clone(q.vals[f]), "a", "zz") {
					want := slices.Clone(q.vals[f])
					if i := slices.Index(want, val); i >= 0 {
						want = slices.Delete(want, i, i+1)
					} else {
						want = append(want, val)
						slices.Sort(want)
					}
					if got := q.toggle(facet(f), val, make([]string, 0, 1)); !slices.Equal(got.vals[f], want) || got.Page != 1 {
						t.Fatalf("toggle %q in %q: %q", val, q.vals[f], got.vals[f])
					}
				}
			}
			// Links written directly are the canonical form, for the
			// portal and a minisite's view.
			for _, site := range []string{"", "sid"} {
				sq := *q
				sq.site = site
				if got, want := sq.link("/resources"), link("/resources", sq.encode()); got != want {
					t.Fatalf("link %q, want %q", got, want)
				}
			}
		}
	})
}

// FuzzParseEntityQuery checks the JSON API's entity query parser.
func FuzzParseEntityQuery(f *testing.F) {
	f.Add("100", "resource", "be", "nl-BE", "be:01ARZ3NDEKTSV4RRFFQ69G5FAV")
	f.Add("x", "", "", "", "")
	f.Fuzz(func(t *testing.T, limit, kind, owner, lang, after string) {
		vals := map[string]string{"kind": kind, "owner": owner, "lang": lang, "after": after, "limit": limit}
		if q, err := parseEntityQuery(func(k string) string { return vals[k] }); err == nil && (q.limit < 1 || q.limit > apiMaxLimit || len(q.after) > 64) {
			t.Fatalf("entity query accepted limit %d after %q", q.limit, q.after)
		}
	})
}
