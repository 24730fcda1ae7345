package node

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A community search ranks its matches and cuts their snippets here, not
// with FTS5's bm25() and snippet(). bm25() counts, at every search and for
// every word searched, each row of the whole index that holds the word (its
// document frequency, for the word's weight): for a common word that is a
// scan of a large part of the community, tens of milliseconds however few
// matches are ranked. The formula below is bm25()'s own, with the same
// column weights; the document frequencies come from the index's vocabulary
// (migration 0012), those of common words kept in memory between searches.
// They change slowly: a cached count is used while the index has grown or
// shrunk by less than termDrift and is younger than termMaxAge. A rare
// word is counted at each search, at the cost of its few rows.

const (
	// bm25's constants, as FTS5 has them.
	bm25K1 = 1.2
	bm25B  = 0.75
	// A title counts three times a text.
	titleWeight = 3.0
	// snippetTokens is how many words a snippet shows around the matches.
	snippetTokens = 16
	// commonTerm: words in at least this many rows are cached; counting a
	// rarer one costs less than a millisecond.
	commonTerm = 256
	// termDrift and termMaxAge bound how stale a cached count may be.
	termDrift  = 0.02
	termMaxAge = time.Hour
)

// termCache holds the document frequencies of the search index's common
// words. The words are the community's most frequent, not anyone's text:
// a word in fewer than commonTerm rows is never kept.
type termCache struct {
	mu   sync.Mutex
	rows int64 // the index's rows when the counts were taken
	at   time.Time
	df   map[string]int64
	// loaded is set once LoadSearchStats has looked for kept counts.
	loaded bool
}

// valid reports whether counts taken at c.rows and c.at still stand for an
// index of rows rows. c.mu is held.
func (c *termCache) valid(rows int64, now time.Time) bool {
	return c.df != nil && now.Sub(c.at) < termMaxAge && math.Abs(float64(rows-c.rows)) <= termDrift*float64(max(c.rows, 1))
}

// RefreshSearchStats counts the community search index's common words in
// one pass over its vocabulary, so that no search has to count them, and
// keeps the counts in the database for the next start (LoadSearchStats).
// Housekeeping does it every hour; without it, the first search for each
// common word counts that word.
func (n *Node) RefreshSearchStats(ctx context.Context) error {
	df := map[string]int64{}
	var rows int64
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		if rows, _, err = ftsAverages(ctx, tx); err != nil {
			return err
		}
		r, err := tx.QueryContext(ctx, `SELECT term, doc FROM community_fts_terms WHERE doc >= ?`, commonTerm)
		if err != nil {
			return err
		}
		return scanTermCounts(r, df)
	})
	if err != nil {
		return fmt.Errorf("count the search index's words: %w", err)
	}
	at := time.Now()
	err = n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM community_term_counts`); err != nil {
			return err
		}
		for term, doc := range df {
			if _, err := tx.ExecContext(ctx, `INSERT INTO community_term_counts (term, doc) VALUES (?, ?)`, term, doc); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO community_term_stats (id, rows, at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET rows = excluded.rows, at = excluded.at`, rows, fmtTime(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("keep the search index's word counts: %w", err)
	}
	n.terms.mu.Lock()
	n.terms.df, n.terms.rows, n.terms.at = df, rows, at
	n.terms.mu.Unlock()
	return nil
}

// LoadSearchStats takes the common words' counts RefreshSearchStats kept,
// if they still stand for the index as it is (termDrift, termMaxAge). A
// node does this at start: counting them again reads the whole index's
// vocabulary, which grows with the community. When they are stale, it
// leaves them to the first searches and the next housekeeping.
func (n *Node) LoadSearchStats(ctx context.Context) error {
	df := map[string]int64{}
	var c termCache
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		rows, _, err := ftsAverages(ctx, tx)
		if err != nil {
			return err
		}
		var at string
		err = tx.QueryRowContext(ctx, `SELECT rows, at FROM community_term_stats WHERE id = 1`).Scan(&c.rows, &at)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		c.at, c.df = parseTime(at), df
		if !c.valid(rows, time.Now()) {
			c.df = nil
			return nil
		}
		r, err := tx.QueryContext(ctx, `SELECT term, doc FROM community_term_counts`)
		if err != nil {
			return err
		}
		return scanTermCounts(r, df)
	})
	if err != nil {
		return fmt.Errorf("load the search index's word counts: %w", err)
	}
	n.terms.mu.Lock()
	defer n.terms.mu.Unlock()
	if c.df != nil && n.terms.at.Before(c.at) {
		n.terms.df, n.terms.rows, n.terms.at = c.df, c.rows, c.at
	}
	n.terms.loaded = true
	return nil
}

// docFreqs returns how many rows of the index hold each term.
func (n *Node) docFreqs(ctx context.Context, tx *sql.Tx, terms []string, rows int64) ([]int64, error) {
	out := make([]int64, len(terms))
	now := time.Now()
	n.terms.mu.Lock()
	if !n.terms.valid(rows, now) {
		n.terms.df, n.terms.rows, n.terms.at = map[string]int64{}, rows, now
	}
	missing := []int{}
	for i, t := range terms {
		if df, ok := n.terms.df[t]; ok {
			out[i] = df
		} else {
			missing = append(missing, i)
		}
	}
	n.terms.mu.Unlock()
	for _, i := range missing {
		err := tx.QueryRowContext(ctx, `SELECT doc FROM community_fts_terms WHERE term = ?`, terms[i]).Scan(&out[i])
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if out[i] >= commonTerm {
			n.terms.mu.Lock()
			if n.terms.df != nil {
				n.terms.df[terms[i]] = out[i]
			}
			n.terms.mu.Unlock()
		}
	}
	return out, nil
}

// ftsAverages reads the search index's row count and its average row
// length in tokens, all columns together (what bm25 normalises by), from
// the record FTS5 keeps them in: varints, the rows then each column's
// tokens.
func ftsAverages(ctx context.Context, tx *sql.Tx) (rows int64, avg float64, err error) {
	var rec []byte
	err = tx.QueryRowContext(ctx, `SELECT block FROM community_fts_data WHERE id = 1`).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	v, k := sqliteVarint(rec)
	rows, rec = int64(v), rec[k:]
	var total uint64
	for len(rec) > 0 {
		v, k := sqliteVarint(rec)
		if k == 0 {
			break
		}
		total, rec = total+v, rec[k:]
	}
	if rows > 0 {
		avg = float64(total) / float64(rows)
	}
	return rows, avg, nil
}

// sqliteVarint decodes SQLite's varint (big-endian, 7 bits a byte, the
// ninth byte whole) and its length; 0 length for a truncated one.
func sqliteVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		if i == 8 {
			return v<<8 | uint64(b[i]), 9
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// searchTerms turns ftsQuery's quoted words into the index's terms, as its
// tokenizer folds them.
func searchTerms(match string) []string {
	var terms []string
	for w := range strings.SplitSeq(match, " ") {
		tokenizeFTS(strings.Trim(w, `"`), func(_, _ int, term []byte) {
			terms = append(terms, string(term))
		})
	}
	return terms
}

// tokenizeFTS calls fn with each token of s as the search table's
// unicode61 tokenizer (remove_diacritics 2) cuts and folds it: runs of
// letters, numbers and marks, lower-cased, diacritics removed. term is
// reused between calls.
func tokenizeFTS(s string, fn func(start, end int, term []byte)) {
	buf := make([]byte, 0, 32)
	start := -1
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			// ASCII, most of the text: inline.
			if asciiToken[c] != 0 {
				if start < 0 {
					start, buf = i, buf[:0]
				}
				buf = append(buf, asciiToken[c])
			} else if start >= 0 {
				if len(buf) > 0 {
					fn(start, i, buf)
				}
				start = -1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if isTokenRune(r) {
			if start < 0 {
				start, buf = i, buf[:0]
			}
			buf = foldRune(buf, r)
		} else if start >= 0 {
			if len(buf) > 0 {
				fn(start, i, buf)
			}
			start = -1
		}
		i += size
	}
	if start >= 0 && len(buf) > 0 {
		fn(start, len(s), buf)
	}
}

// asciiToken maps an ASCII letter or digit to its folded self, any other
// byte to 0.
var asciiToken = func() (t [utf8.RuneSelf]byte) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = c, c
	}
	return t
}()

func isTokenRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.Is(unicode.Co, r)
}

// foldRune appends r lower-cased and, for a Latin letter, without its
// diacritics, as unicode61 folds: its diacritics table covers Latin
// letters alone (é is e, ά stays ά), and a combining mark on its own is
// dropped.
func foldRune(buf []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(buf, byte(r))
	}
	if unicode.Is(unicode.Mn, r) {
		return buf
	}
	r = unicode.ToLower(r)
	var enc [utf8.UTFMax]byte
	d := norm.NFD.PropertiesString(string(enc[:utf8.EncodeRune(enc[:], r)])).Decomposition()
	if len(d) > 0 && d[0] < utf8.RuneSelf && asciiToken[d[0]] != 0 {
		return append(buf, asciiToken[d[0]])
	}
	return utf8.AppendRune(buf, r)
}

// searchDoc is a match as ranking reads it.
type searchDoc struct {
	n           int64
	title, text string
	score       float64
}

// rankDocs orders docs best first, as bm25 with a title counting
// titleWeight times a text, the most recently stored (highest n) first
// among equals. df holds each term's rows of the index, rows and avg the
// index's rows and average row length.
func rankDocs(docs []searchDoc, terms []string, df []int64, rows int64, avg float64) {
	idf := make([]float64, len(terms))
	for i := range terms {
		idf[i] = math.Log((float64(rows-df[i]) + 0.5) / (float64(df[i]) + 0.5))
		if idf[i] <= 0 {
			idf[i] = 1e-6
		}
	}
	if avg <= 0 {
		avg = 1
	}
	tf := make([]float64, len(terms))
	for d := range docs {
		clear(tf)
		length := 2 // the space and SIC tokens
		count := func(text string, weight float64) {
			tokenizeFTS(text, func(_, _ int, term []byte) {
				length++
				for i, t := range terms {
					if string(term) == t {
						tf[i] += weight
					}
				}
			})
		}
		count(docs[d].title, titleWeight)
		count(docs[d].text, 1)
		norm := bm25K1 * (1 - bm25B + bm25B*float64(length)/avg)
		score := 0.0
		for i := range terms {
			score += idf[i] * tf[i] * (bm25K1 + 1) / (tf[i] + norm)
		}
		docs[d].score = score
	}
	slices.SortStableFunc(docs, func(a, b searchDoc) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(b.n, a.n)
	})
}

// snippetOf returns the snippetTokens words of text that hold the most
// distinct searched terms, then the most matches, with the matches
// between snippetOpen and snippetClose, and "…" where text goes on; when
// no term is in text, its first words and false.
func snippetOf(text string, terms []string) (string, bool) {
	type tok struct {
		start, end int
		term       int // index in terms, -1 for none
	}
	var toks []tok
	found := false
	tokenizeFTS(text, func(start, end int, term []byte) {
		t := tok{start, end, -1}
		for i, s := range terms {
			if string(term) == s {
				t.term, found = i, true
				break
			}
		}
		toks = append(toks, t)
	})
	first, last := 0, min(len(toks), snippetTokens)
	if found && len(toks) > snippetTokens {
		// The window starting on a match that holds the most distinct
		// terms, then the most matches, the first of equals.
		best, bestScore := 0, -1
		seen := make([]bool, len(terms))
		for i := range toks {
			if toks[i].term < 0 {
				continue
			}
			clear(seen)
			score := 0
			for _, t := range toks[i:min(len(toks), i+snippetTokens)] {
				if t.term >= 0 {
					if !seen[t.term] {
						seen[t.term], score = true, score+1000
					} else {
						score++
					}
				}
			}
			if score > bestScore {
				best, bestScore = i, score
			}
		}
		// Centre the window's matches, as far as the text allows.
		lastHit := best
		for j := best; j < min(len(toks), best+snippetTokens); j++ {
			if toks[j].term >= 0 {
				lastHit = j
			}
		}
		first = best - (snippetTokens-(lastHit-best+1))/2
		first = max(0, min(first, len(toks)-snippetTokens))
		last = first + snippetTokens
	}
	var b strings.Builder
	from := 0
	if first > 0 {
		b.WriteString("…")
		from = toks[first].start
	}
	for _, t := range toks[first:last] {
		if t.term < 0 {
			continue
		}
		b.WriteString(text[from:t.start])
		b.WriteString(snippetOpen)
		b.WriteString(text[t.start:t.end])
		b.WriteString(snippetClose)
		from = t.end
	}
	if last < len(toks) {
		b.WriteString(text[from:toks[last-1].end])
		b.WriteString("…")
	} else {
		b.WriteString(text[from:])
	}
	return b.String(), found
}

// scanTermCounts reads rows of (term, documents) into df and closes rows.
func scanTermCounts(rows *sql.Rows, df map[string]int64) error {
	defer rows.Close()
	for rows.Next() {
		var term string
		var doc int64
		if err := rows.Scan(&term, &doc); err != nil {
			return err
		}
		df[term] = doc
	}
	return rows.Err()
}
