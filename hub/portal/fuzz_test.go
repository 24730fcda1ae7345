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

func TestFTSQuery(t *testing.T) {
	for _, c := range []struct{ in, col, want string }{
		{"privacy", "", `"privacy"*`},
		{"cyber bullying ", "", `"cyber" "bullying"`},
		{"cyber bully", "", `"cyber" "bully"*`},
		{`"NEAR(a b)" OR title:x*`, "", `"NEAR" "a" "b" "OR" "title" "x"`},
		{"l'école numérique", "", `"l" "école" "numérique"*`},
		{"ab", "", `"ab"`},
		{"***", "", ""},
		{"data protection", "title", `{title} : ("data" "protection"*)`},
	} {
		if got := ftsPrefixQuery(c.in, c.col); got != c.want {
			t.Errorf("ftsPrefixQuery(%q, %q) = %s, want %s", c.in, c.col, got, c.want)
		}
		if got, want := ftsQuery(c.in, c.col), strings.ReplaceAll(c.want, "*", ""); got != want {
			t.Errorf("ftsQuery(%q, %q) = %s, want %s", c.in, c.col, got, want)
		}
	}
}

// FuzzFTSQuery checks that no visitor text makes an FTS5 query that fails.
func FuzzFTSQuery(f *testing.F) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE VIRTUAL TABLE t USING fts5 (title, description, translations, content = '', contentless_delete = 1,
		tokenize = 'unicode61 remove_diacritics 2'); INSERT INTO t (rowid, title, description, translations) VALUES (1, 'Privacy online', 'sécurité', '')`); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"privacy", `"`, `a OR b`, `NEAR(x y, 2)`, `title:x`, `{title}: y`, `^a`, `a*`, `(`, `-x`, `AND`, "\x00", "é́", "🙂 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, q := range []string{ftsQuery(text, ""), ftsPrefixQuery(text, ""), ftsQuery(text, "title"), ftsPrefixQuery(text, "title")} {
			if q == "" {
				continue
			}
			rows, err := db.Query(`SELECT rowid FROM t WHERE t MATCH ?`, q)
			if err != nil {
				t.Fatalf("ftsQuery(%q) = %s fails: %v", text, q, err)
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("ftsQuery(%q) = %s fails: %v", text, q, err)
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
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodeOAIToken(s, key)
		if err != nil {
			return
		}
		if tok.Bound < tok.After || tok.Total < tok.Cursor || tok.Prefix != oaiDCPrefix {
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
