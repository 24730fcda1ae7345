package portal

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// jsonText encodes v as JSON for a SQL parameter; v is always a plain list
// or map, which cannot fail to encode.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonList decodes a JSON array of strings stored by the indexer.
func jsonList(s string) []string {
	var out []string
	if s == "" || json.Unmarshal([]byte(s), &out) != nil {
		return nil
	}
	return out
}

// unionLangs is lang, then every other language of the lists, without
// repeats.
func unionLangs(lang string, lists ...[]string) []string {
	out := []string{lang}
	for _, l := range lists {
		for _, v := range l {
			if v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// foldTitle is the key titles sort by: lower case without diacritics, so
// "Écrans" sorts with "ecrans".
func foldTitle(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

// summary shortens text to about n bytes at a word boundary.
func summary(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if i := strings.LastIndexByte(s[:cut], ' '); i > n/2 {
		cut = i
	}
	return strings.TrimRight(s[:cut], " ,.;:") + "…"
}

func jsonUnmarshal(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// atoiStrict parses a plain decimal number: no sign, no leading zeros.
func atoiStrict(s string) (int, error) {
	if s == "" || len(s) > 9 || s[0] == '0' {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(s)
}
