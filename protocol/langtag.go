package protocol

import (
	"fmt"
	"strings"
)

// ParseLanguageTag checks that s is a well-formed BCP 47 language tag (RFC 5646:
// language, optional script, region, variants, extensions and private use) and
// returns it in canonical case: "nl-BE", "sr-Latn-RS", "de". Grandfathered tags
// are not accepted; no network needs them. Nor are the 4 to 8 letter language
// subtags RFC 5646 reserves: none is registered, and allowing them would let
// "english-uk" pass for a tag.
func ParseLanguageTag(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty language tag")
	}
	if len(s) > 64 {
		return "", fmt.Errorf("language tag %.20q… is too long", s)
	}
	// Language tags are ASCII; checking before any case mapping keeps
	// characters such as U+0130 from lowering into ASCII letters.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '-' && !isAlnum(s[i:i+1]) {
			return "", fmt.Errorf("%q is not a BCP 47 language tag: only ASCII letters, digits and '-' are allowed", s)
		}
	}
	parts := strings.Split(s, "-")
	out := make([]string, 0, len(parts))
	i := 0
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%q is not a BCP 47 language tag: %s", s, why)
	}
	lang := parts[0]
	if !isAlpha(lang) || len(lang) < 2 || len(lang) > 3 {
		return bad("language subtag must be 2 or 3 letters")
	}
	out = append(out, strings.ToLower(lang))
	i++
	// Extended language subtags (up to three of three letters) follow the language.
	for n := 0; n < 3 && i < len(parts) && len(parts[i]) == 3 && isAlpha(parts[i]); n++ {
		out = append(out, strings.ToLower(parts[i]))
		i++
	}
	if i < len(parts) && len(parts[i]) == 4 && isAlpha(parts[i]) {
		p := strings.ToLower(parts[i])
		out = append(out, strings.ToUpper(p[:1])+p[1:])
		i++
	}
	if i < len(parts) && (len(parts[i]) == 2 && isAlpha(parts[i]) || len(parts[i]) == 3 && isDigit(parts[i])) {
		out = append(out, strings.ToUpper(parts[i]))
		i++
	}
	seenVariant := map[string]bool{}
	for i < len(parts) {
		p := strings.ToLower(parts[i])
		if !isAlnum(p) {
			return bad(fmt.Sprintf("subtag %q has characters other than letters and digits", parts[i]))
		}
		if (len(p) >= 5 && len(p) <= 8) || (len(p) == 4 && p[0] >= '0' && p[0] <= '9') {
			if seenVariant[p] {
				return bad(fmt.Sprintf("variant %q repeated", p))
			}
			seenVariant[p] = true
			out = append(out, p)
			i++
			continue
		}
		break
	}
	seenExt := map[byte]bool{}
	for i < len(parts) {
		p := strings.ToLower(parts[i])
		if len(p) != 1 || !isAlnum(p) {
			return bad(fmt.Sprintf("unexpected subtag %q", parts[i]))
		}
		single := p[0]
		out = append(out, p)
		i++
		if single == 'x' {
			if i == len(parts) {
				return bad("private use needs at least one subtag")
			}
			for ; i < len(parts); i++ {
				q := strings.ToLower(parts[i])
				if len(q) < 1 || len(q) > 8 || !isAlnum(q) {
					return bad(fmt.Sprintf("private use subtag %q must be 1-8 letters or digits", parts[i]))
				}
				out = append(out, q)
			}
			break
		}
		if seenExt[single] {
			return bad(fmt.Sprintf("extension %q repeated", p))
		}
		seenExt[single] = true
		n := 0
		for ; i < len(parts) && len(parts[i]) >= 2 && len(parts[i]) <= 8; i++ {
			q := strings.ToLower(parts[i])
			if !isAlnum(q) {
				return bad(fmt.Sprintf("extension subtag %q must be letters or digits", parts[i]))
			}
			out = append(out, q)
			n++
		}
		if n == 0 {
			return bad(fmt.Sprintf("extension %q has no subtags", p))
		}
	}
	return strings.Join(out, "-"), nil
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

func isDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z') {
			return false
		}
	}
	return s != ""
}
