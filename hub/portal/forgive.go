package portal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/bikfed/bikfed/protocol"
)

// A visitor types what they would say, not what a resource's author wrote:
// "cyber bullying" for "cyberbullying", "harcelement" for "harcèlement", a
// topic's name in their own language for resources written in another.
// The search forgives this in three ways, all decided before the one
// full-text query runs:
//
//   - a topic, type or audience named in any interface language matches the
//     resources tagged with it: the index holds each resource's vocabulary
//     terms as tag tokens (vocabToken), and the label becomes one more
//     alternative of its words;
//   - two words also match as one ("cyber bullying" finds "cyberbullying")
//     and a long word also matches as two ("cyberbullying" finds "cyber
//     bullying", "cyber-bullying"), when the index holds the other form;
//   - accents never matter: the index and the query fold them alike
//     (unicode61 remove_diacritics 2, and fold here).

// vocabToken is the word the full-text index holds for a resource's
// vocabulary term, in the tags column. It starts with a digit, which no
// word of a title starts so (and which spelling suggestions skip), and has
// no hyphen, which the tokenizer would split at. The migrations and the
// indexer write the same in SQL (tagsSQL).
func vocabToken(f facet, term string) string {
	return "0v" + vocabLetter[f] + strings.ReplaceAll(term, "-", "")
}

var vocabLetter = map[facet]string{facetTopic: "t", facetType: "y", facetAudience: "a"}

// tagsSQL is the tags column of resource r: vocabToken of each of its
// topics, its type and its audiences.
const tagsSQL = `(SELECT group_concat(tok, ' ') FROM (
		SELECT '0vt' || replace(value, '-', '') AS tok FROM json_each(r.topics)
		UNION ALL SELECT '0vy' || replace(r.type, '-', '')
		UNION ALL SELECT '0va' || replace(value, '-', '') FROM json_each(r.audiences)))`

// fold is a word as the full-text index keeps it: lower case, without
// accents.
func fold(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// foldedWords are the words of s, folded, as the tokenizer splits them.
func foldedWords(s string) []string {
	return strings.FieldsFunc(fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// vocabRef is one term of a vocabulary.
type vocabRef struct {
	f    facet
	term string
}

// labelIndex knows every topic, type and audience by its label in every
// interface language, folded and with its words run together, so that
// "Cyberharcèlement", "cyber harcelement" and "cyberharcelement" are one key.
type labelIndex struct {
	byKey map[string][]vocabRef
	// names are the labels as written, for a spelling suggestion.
	names map[string]string
	// words are each term's distinct labels, as folded words.
	words map[vocabRef][][]string
	// maxWords is the most words a label has.
	maxWords int
}

// labelKinds are the vocabularies whose labels are searchable, with the
// catalogue's name for each.
var labelKinds = []struct {
	f     facet
	kind  string
	terms []string
}{
	{facetTopic, "topic", protocol.Topics},
	{facetType, "type", protocol.ResourceTypes},
	{facetAudience, "audience", protocol.Audiences},
}

func newLabelIndex(il *interfaceLangs) *labelIndex {
	li := &labelIndex{byKey: map[string][]vocabRef{}, names: map[string]string{}, words: map[vocabRef][][]string{}}
	for _, lang := range il.list {
		pr := il.bundle.Printer(lang)
		for _, k := range labelKinds {
			for _, term := range k.terms {
				label := vocabLabel(pr, k.kind, term)
				words := foldedWords(label)
				if len(words) == 0 {
					continue
				}
				key := strings.Join(words, "")
				if _, ok := li.names[key]; !ok {
					li.names[key] = label
				}
				ref := vocabRef{k.f, term}
				if !slices.Contains(li.byKey[key], ref) {
					li.byKey[key] = append(li.byKey[key], ref)
				}
				if !slices.ContainsFunc(li.words[ref], func(w []string) bool { return slices.Equal(w, words) }) {
					li.words[ref] = append(li.words[ref], words)
				}
				li.maxWords = max(li.maxWords, len(words))
			}
		}
	}
	return li
}

// knownFunc reports whether a folded word is in the full-text index.
type knownFunc func(word string) bool

// Bounds of the compound forms tried: each part of a split is a word of its
// own, not a stray syllable.
const (
	splitPartMin = 4
	splitWordMin = 2 * splitPartMin
)

// searchExpr turns visitor text into an FTS5 expression: every word must
// match (as typed, or joined with the next word, or split in two, or as
// part of a vocabulary label). Like ftsQuery it can only match words: each
// is a quoted string of letters and digits. prefix makes the last word a
// prefix, for a visitor who did not finish typing it.
func searchExpr(text string, labels *labelIndex, known knownFunc, prefix bool) string {
	return searchExprForms(text, labels, known, prefix, func(r vocabRef) []string { return labelForms(labels, r, known) })
}

// labelForms are the ways text names a topic: each of its labels as a
// phrase, and a one-word label also split in two where the index holds
// both parts ("cyberbullying" as "cyber bullying"). Types and audiences
// have none: every resource is tagged with them, and their labels are
// everyday words that mean something else in another language (Portuguese
// "pais", parents, is Spanish for country).
func labelForms(labels *labelIndex, r vocabRef, known knownFunc) []string {
	if r.f != facetTopic {
		return nil
	}
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, ws := range labels.words[r] {
		add(quoted(strings.Join(ws, " ")))
		if len(ws) == 1 && known != nil {
			if a, z, ok := split(ws[0], known); ok {
				add(quoted(a + " " + z))
			}
		}
	}
	return out
}

// searchExprForms is searchExpr with the forms of each vocabulary term
// given (cached by the portal for an index generation).
func searchExprForms(text string, labels *labelIndex, known knownFunc, prefix bool, forms func(vocabRef) []string) string {
	terms := searchTerms(text)
	if len(terms) == 0 {
		return ""
	}
	folds := make([]string, len(terms))
	for i, t := range terms {
		folds[i] = fold(t)
	}
	endsInWord := !unicode.IsSpace(lastRune(text))
	// FTS5 takes a space as AND only between strings: before or after a
	// parenthesis it must be written out.
	var groups []string
	for i := 0; i < len(terms); {
		span, refs := 1, []vocabRef(nil)
		if labels != nil {
			for n := min(labels.maxWords, len(terms)-i); n >= 1; n-- {
				if r := labels.byKey[strings.Join(folds[i:i+n], "")]; r != nil {
					span, refs = n, r
					break
				}
			}
		}
		joined := ""
		if refs == nil && i+1 < len(terms) && known != nil && known(folds[i]+folds[i+1]) {
			span, joined = 2, folds[i]+folds[i+1]
		} else if span > 1 {
			joined = strings.Join(folds[i:i+span], "")
		}
		last := i+span == len(terms)
		var alts []string
		var plain strings.Builder
		for j := i; j < i+span; j++ {
			if j > i {
				plain.WriteString(" AND ")
			}
			plain.WriteString(quoted(terms[j]))
			if prefix && last && j == i+span-1 && endsInWord && utf8.RuneCountInString(terms[j]) >= 3 {
				plain.WriteByte('*')
			}
		}
		alts = append(alts, plain.String())
		if joined != "" {
			alts = append(alts, quoted(joined))
		}
		if span == 1 && known != nil {
			if a, z, ok := split(folds[i], known); ok {
				alts = append(alts, quoted(a+" "+z))
			}
		}
		// A label stands for its term: the resources tagged with it, and
		// those naming it in any language.
		for _, r := range refs {
			alts = append(alts, quoted(vocabToken(r.f, r.term)))
			for _, f := range forms(r) {
				if !slices.Contains(alts, f) {
					alts = append(alts, f)
				}
			}
		}
		switch {
		case len(alts) == 1 && span == 1:
			groups = append(groups, alts[0])
		case len(alts) == 1:
			groups = append(groups, "("+alts[0]+")")
		default:
			for k, a := range alts {
				if strings.Contains(a, " AND ") {
					alts[k] = "(" + a + ")"
				}
			}
			groups = append(groups, "("+strings.Join(alts, " OR ")+")")
		}
		i += span
	}
	return strings.Join(groups, " AND ")
}

// quoted is a word (letters and digits, or words of them separated by
// spaces: a phrase) as an FTS5 string.
func quoted(w string) string { return `"` + w + `"` }

// split finds where a long word is two words the index holds, the longer
// first part winning ("cyberbullying" is "cyber" "bullying").
func split(w string, known knownFunc) (string, string, bool) {
	rs := []rune(w)
	if len(rs) < splitWordMin {
		return "", "", false
	}
	for i := len(rs) - splitPartMin; i >= splitPartMin; i-- {
		a, z := string(rs[:i]), string(rs[i:])
		if known(a) && known(z) {
			return a, z, true
		}
	}
	return "", "", false
}

// termCache remembers which folded words the full-text index holds, and
// the forms of the terms searched for: a search asks about a few words,
// each a lookup in the index's vocabulary, and a topic's forms take dozens.
// The answers are kept across index generations for termCacheTTL: a sync
// landing every few seconds would otherwise make the next searches pay for
// all of them again, and an answer out of date only leaves out a compound
// form for a while (which words match as typed is always the index's).
type termCache struct {
	mu    sync.Mutex
	since time.Time
	known map[string]bool
	// forms are labelForms of each term asked about.
	forms map[vocabRef][]string
}

const (
	termCacheSize = 4096
	termCacheTTL  = 5 * time.Minute
)

// fresh starts the cache over when it is too old or too large. Call with
// mu held.
func (c *termCache) fresh(now time.Time) {
	if c.known == nil || now.Sub(c.since) > termCacheTTL || now.Before(c.since) || len(c.known) >= termCacheSize {
		c.since, c.known, c.forms = now, map[string]bool{}, map[vocabRef][]string{}
	}
}

// known returns a knownFunc reading the index through p's reader.
func (p *Portal) known(ctx context.Context) knownFunc {
	return func(w string) bool {
		if w == "" || len(w) > 64 {
			return false
		}
		c := &p.terms
		c.mu.Lock()
		c.fresh(p.now())
		k, ok := c.known[w]
		c.mu.Unlock()
		if ok {
			return k
		}
		var doc int
		err := p.db.Reader().QueryRowContext(ctx, `SELECT doc FROM resource_terms WHERE term = ?`, w).Scan(&doc)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false // a failed lookup only means no compound form
		}
		k = doc > 0
		c.mu.Lock()
		c.known[w] = k
		c.mu.Unlock()
		return k
	}
}

// forms returns labelForms of a term, kept in the term cache.
func (p *Portal) forms(known knownFunc) func(vocabRef) []string {
	return func(r vocabRef) []string {
		c := &p.terms
		c.mu.Lock()
		c.fresh(p.now())
		f, ok := c.forms[r]
		c.mu.Unlock()
		if ok {
			return f
		}
		f = labelForms(p.labels, r, known)
		c.mu.Lock()
		c.forms[r] = f
		c.mu.Unlock()
		return f
	}
}

// suggestSpelling returns text with every word the index does not hold
// replaced by the closest one it does (or the closest label), or "" when
// no word changes. It reads the index's words that start with the same
// letter, so it runs only for a search that found nothing.
func (p *Portal) suggestSpelling(ctx context.Context, text string) (string, error) {
	terms := searchTerms(text)
	if len(terms) == 0 {
		return "", nil
	}
	known := p.known(ctx)
	changed := false
	out := make([]string, len(terms))
	for i, t := range terms {
		w := fold(t)
		out[i] = t
		if known(w) || p.labels.byKey[w] != nil || utf8.RuneCountInString(w) < 3 {
			continue
		}
		best, err := p.closest(ctx, w)
		if err != nil {
			return "", err
		}
		if best != "" {
			out[i], changed = best, true
		}
	}
	if !changed {
		return "", nil
	}
	return strings.Join(out, " "), nil
}

// closest is the index word or label nearest to w in edit distance (at
// most 1 for a word of up to 5 letters, 2 beyond), the more common winning
// a tie; "" when none is that near.
func (p *Portal) closest(ctx context.Context, w string) (string, error) {
	rs := []rune(w)
	limit := 1
	if len(rs) > 5 {
		limit = 2
	}
	best, bestDist, bestDoc := "", limit+1, 0
	consider := func(cand string, doc int) {
		n := utf8.RuneCountInString(cand)
		if n < len(rs)-limit || n > len(rs)+limit || cand == w || strings.HasPrefix(cand, "0v") {
			return
		}
		d := editDistance(rs, []rune(cand), limit)
		if d > limit {
			return
		}
		if d < bestDist || d == bestDist && doc > bestDoc {
			best, bestDist, bestDoc = cand, d, doc
		}
	}
	first := string(rs[0])
	next := string(rs[0] + 1)
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT term, doc FROM resource_terms WHERE term >= ? AND term < ?`, first, next)
	if err != nil {
		return "", fmt.Errorf("spelling: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var term string
		var doc int
		if err := rows.Scan(&term, &doc); err != nil {
			return "", fmt.Errorf("spelling: %w", err)
		}
		consider(term, doc)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("spelling: %w", err)
	}
	// A label counts as common as the commonest word: it names a whole
	// topic.
	for key := range p.labels.byKey {
		if strings.HasPrefix(key, first) {
			consider(key, 1<<30)
		}
	}
	if name, ok := p.labels.names[best]; ok {
		return name, nil
	}
	return best, nil
}

// editDistance is the optimal string alignment distance of a and b
// (insertions, deletions, substitutions and swaps of neighbours), or
// limit+1 once it is sure to exceed limit.
func editDistance(a, b []rune, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
