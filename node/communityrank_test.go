package node

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTokenizeFTS(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Cyberbullying at school.", []string{"cyberbullying", "at", "school"}},
		{"CYBERBÜLLYING, privé-sphäre", []string{"cyberbullying", "prive", "sphare"}},
		{"  e-mail: 2FA!  ", []string{"e", "mail", "2fa"}},
		{"Turvallisuus ÄÖ çà", []string{"turvallisuus", "ao", "ca"}},
		{"Ελληνικά Кириллица ё", []string{"ελληνικά", "кириллица", "ё"}},
		{"ǻ ṩ İstanbul ß ø cafe\u0301", []string{"a", "s", "istanbul", "ß", "ø", "cafe"}},
		{"", nil},
		{"*** ...", nil},
	}
	for _, tt := range tests {
		var got []string
		tokenizeFTS(tt.in, func(start, end int, term []byte) {
			if start < 0 || end > len(tt.in) || start >= end {
				t.Errorf("%q: token at %d..%d", tt.in, start, end)
			}
			got = append(got, string(term))
		})
		if !slices.Equal(got, tt.want) {
			t.Errorf("tokenizeFTS(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The tokenizer must cut and fold as the index's does, or a searched word
// would not be counted in the text it matched: every token FTS5 finds in a
// text is a term of the index, found by the same folding here.
func TestTokenizeFTS_AsTheIndex(t *testing.T) {
	ctx := t.Context()
	bc := buildCommunity(t, "", 50, 0)
	db := bc.n.db
	texts := []string{"Cyberbullying at SCHOOL", "Privé sphäre, e-mail 2FA", "Turvallisuus ÄÖ ça", "Ελληνικά Кириллица ñandú ё",
		"ǻ ṩ İstanbul ß ø cafe\u0301 Ǆemal ﬁne ＡＢＣ ①②"}
	for i, text := range texts {
		if _, err := db.Writer().ExecContext(ctx, `INSERT INTO community_fts (rowid, title, text, space, sic) VALUES (?, '', ?, 'none', 'x')`, 1_000_000+i, text); err != nil {
			t.Fatal(err)
		}
		tokenizeFTS(text, func(_, _ int, term []byte) {
			var n int
			err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM community_fts_terms WHERE term = ?`, string(term)).Scan(&n)
			if err != nil || n != 1 {
				t.Errorf("%q: the index has no term %q (%v)", text, term, err)
			}
		})
	}
}

func TestSnippetOf(t *testing.T) {
	long := "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"
	tests := []struct {
		name, text string
		terms      []string
		want       string
		found      bool
	}{
		{"short, whole", "Cyberbullying by chat too.", []string{"chat"}, "Cyberbullying by \ue000chat\ue001 too.", true},
		{"case and accents", "Privé at school", []string{"prive"}, "\ue000Privé\ue001 at school", true},
		{"start", long, []string{"one"}, "\ue000one\ue001 two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen…", true},
		{"end", long, []string{"twenty"}, "…five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen \ue000twenty\ue001", true},
		{"centred", long, []string{"ten"}, "…three four five six seven eight nine \ue000ten\ue001 eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen…", true},
		{"most terms win", long + " alpha beta twenty", []string{"alpha", "beta", "one"}, "…eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty \ue000alpha\ue001 \ue000beta\ue001 twenty", true},
		{"no match", long, []string{"zero"}, "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen…", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := snippetOf(tt.text, tt.terms)
			if got != tt.want || found != tt.found {
				t.Errorf("snippetOf = %q, %v\nwant        %q, %v", got, found, tt.want, tt.found)
			}
		})
	}
}

// A search ranks as FTS5's bm25() over the same matches would, title
// weighing three times a text, the most recent first among equals.
func TestNode_SearchCommunityRanksAsBM25(t *testing.T) {
	ctx := t.Context()
	bc := buildCommunity(t, "", 1500, 4000)
	n := bc.n
	for pass, warm := range []bool{false, true} {
		if warm {
			if err := n.RefreshSearchStats(ctx); err != nil {
				t.Fatal(err)
			}
			if len(n.terms.df) == 0 {
				t.Fatal("no common word counted")
			}
		}
		for i, q := range bc.queries[:40] {
			spaces := benchSpaces
			if i%2 == 0 {
				spaces = benchSpaces[:2]
			}
			cq := CommunityQuery{Text: q, Spaces: spaces, Limit: 20}
			var got []string
			for page := 0; page < 2; page++ {
				res, err := n.SearchCommunity(ctx, cq)
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range res.Hits {
					got = append(got, h.ID)
				}
				cq.After = res.Next
				if res.Next == "" {
					break
				}
			}
			want := bm25Order(t, n, communityMatch(ftsQuery(q), spaces, ""), 40)
			if !slices.Equal(got, want) {
				t.Errorf("pass %d, %q in %v:\n got  %v\n want %v", pass, q, spaces, got, want)
			}
		}
	}
}

// bm25Order ranks a query's most recent searchWindow matches with FTS5's
// bm25(), as a search did before ranking moved out of SQLite.
func bm25Order(t *testing.T, n *Node, match string, limit int) []string {
	t.Helper()
	ctx := context.Background()
	var lo int64
	n.db.Reader().QueryRowContext(ctx, `SELECT rowid FROM community_fts WHERE community_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?`,
		match, searchWindow-1).Scan(&lo)
	rows, err := n.db.Reader().QueryContext(ctx, `SELECT i.id FROM (SELECT rowid AS n, bm25(community_fts, 3.0, 1.0, 0.0, 0.0) AS score
		FROM community_fts WHERE community_fts MATCH ? AND rowid >= ? ORDER BY score, rowid DESC LIMIT ?) top
		JOIN community_items i ON i.n = top.n ORDER BY top.score, top.n DESC`, match, lo, limit)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestSqliteVarint(t *testing.T) {
	tests := []struct {
		in   []byte
		want uint64
		n    int
	}{
		{[]byte{0x05}, 5, 1},
		{[]byte{0x81, 0x00}, 128, 2},
		{[]byte{0x82, 0x80, 0x01}, 1<<15 | 1, 3},
		{[]byte{0x81}, 0, 0},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1<<64 - 1, 9},
	}
	for _, tt := range tests {
		if got, n := sqliteVarint(tt.in); got != tt.want || n != tt.n {
			t.Errorf("sqliteVarint(%x) = %d, %d; want %d, %d", tt.in, got, n, tt.want, tt.n)
		}
	}
}

// The counts a search weighs words by are the index's, cached or not.
func TestNode_DocFreqs(t *testing.T) {
	ctx := t.Context()
	bc := buildCommunity(t, "", 400, 800)
	n := bc.n
	words := searchTerms(ftsQuery(strings.Join(bc.queries[:6], " ") + " zzzznotaword " + benchVocab()[0]))
	count := func(w string) int64 {
		var c int64
		if err := n.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM community_fts WHERE community_fts MATCH ?`,
			fmt.Sprintf(`{title text space sic}: "%s"`, w)).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, warm := range []bool{false, true} {
		if warm {
			if err := n.RefreshSearchStats(ctx); err != nil {
				t.Fatal(err)
			}
		}
		err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
			rows, _, err := ftsAverages(ctx, tx)
			if err != nil {
				return err
			}
			if rows != 1200 {
				t.Errorf("index rows %d, want 1200", rows)
			}
			df, err := n.docFreqs(ctx, tx, words, rows)
			if err != nil {
				return err
			}
			cached := 0
			for i, w := range words {
				if want := count(w); df[i] != want {
					t.Errorf("warm %v: %q in %d rows, want %d", warm, w, df[i], want)
				}
				if _, ok := n.terms.df[w]; ok {
					cached++
				}
			}
			if warm && cached == 0 {
				t.Errorf("none of %q cached", words)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The common words' counts are kept in the database, and a node starting up
// takes them from there while they still stand for the index, instead of
// reading the index's whole vocabulary again.
func TestNode_SearchStatsKeptForStart(t *testing.T) {
	ctx := t.Context()
	bc := buildCommunity(t, "", 400, 800)
	n := bc.n
	load := func() map[string]int64 {
		t.Helper()
		fresh := &Node{db: n.db}
		if err := fresh.LoadSearchStats(ctx); err != nil {
			t.Fatal(err)
		}
		if !fresh.terms.loaded {
			t.Error("LoadSearchStats did not mark the counts looked for")
		}
		return fresh.terms.df
	}
	if df := load(); df != nil {
		t.Fatalf("counts loaded before any were kept: %d words", len(df))
	}
	if err := n.RefreshSearchStats(ctx); err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(n.terms.df)
	if len(want) == 0 {
		t.Fatal("no common word counted")
	}
	if got := load(); !maps.Equal(got, want) {
		t.Fatalf("loaded %d words, want the %d counted: %v", len(got), len(want), got)
	}

	stale := []struct {
		name, set string
		arg       any
	}{
		{"older than termMaxAge", `UPDATE community_term_stats SET at = ?`, fmtTime(time.Now().Add(-termMaxAge - time.Minute))},
		{"index grew past termDrift", `UPDATE community_term_stats SET rows = rows / 2 + ?`, 0},
	}
	for _, s := range stale {
		if err := n.RefreshSearchStats(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := n.db.Writer().ExecContext(ctx, s.set, s.arg); err != nil {
			t.Fatal(err)
		}
		if df := load(); df != nil {
			t.Errorf("%s: %d words loaded, want none", s.name, len(df))
		}
	}
}
