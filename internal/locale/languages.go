package locale

import (
	"slices"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Language is one interface language.
type Language struct {
	// Code names the language's catalogue files (pt.json) and its choice
	// in addresses (?lang=pt).
	Code string
	// Tag is the BCP 47 tag that stands for the catalogue: in the lang
	// attribute, in matching what a browser asks for, and for go-i18n,
	// whose plural rule it picks.
	Tag string
	// Name is the language's name in itself, from CLDR: "français",
	// "Deutsch", "српски".
	Name string
}

// interfaceLanguages are the languages the interface may speak, in the order
// a language chooser lists them: English, the reference, first, then by
// code. They are the 24 official languages of the EU and Icelandic,
// Norwegian, Serbian and Ukrainian. The tag differs from the code where the
// plain code would mean something else: plain "pt" is Brazilian in CLDR
// (and takes the French plural rule, one for 0), our Portuguese is
// European; "no" is written in Bokmål. Serbian's plain "sr" is Cyrillic.
var interfaceLanguages = [...]struct{ code, tag string }{
	{"en", "en"},
	{"bg", "bg"}, {"cs", "cs"}, {"da", "da"}, {"de", "de"}, {"el", "el"},
	{"es", "es"}, {"et", "et"}, {"fi", "fi"}, {"fr", "fr"}, {"ga", "ga"},
	{"hr", "hr"}, {"hu", "hu"}, {"is", "is"}, {"it", "it"}, {"lt", "lt"},
	{"lv", "lv"}, {"mt", "mt"}, {"nl", "nl"}, {"no", "nb"}, {"pl", "pl"},
	{"pt", "pt-PT"}, {"ro", "ro"}, {"sk", "sk"}, {"sl", "sl"}, {"sr", "sr"},
	{"sv", "sv"}, {"uk", "uk"},
}

// InterfaceLanguages lists every language the interface may speak, whether
// or not it has catalogues yet, English first.
func InterfaceLanguages() []Language {
	out := make([]Language, len(interfaceLanguages))
	for i, l := range interfaceLanguages {
		out[i] = Language{Code: l.code, Tag: l.tag, Name: selfName(l.code)}
	}
	return out
}

// LanguageOf returns the interface language code names, and whether there
// is one.
func LanguageOf(code string) (Language, bool) {
	i := slices.IndexFunc(interfaceLanguages[:], func(l struct{ code, tag string }) bool { return l.code == code })
	if i < 0 {
		return Language{}, false
	}
	l := interfaceLanguages[i]
	return Language{Code: l.code, Tag: l.tag, Name: selfName(l.code)}, true
}

// selfName is the CLDR name of a language in itself. It names the base
// language, not the tag: a Portuguese reader looks for "português", not
// "português europeu", and "no" is named as Bokmål, which it is.
func selfName(code string) string {
	if code == "no" {
		code = "nb"
	}
	return display.Self.Name(language.Make(code))
}

// aliases maps the base languages a browser may send to the catalogue
// that serves them: Norwegian Nynorsk readers read Bokmål, and x/text
// reads "no" as "nb".
var aliases = map[string]string{"nb": "no", "nn": "no"}

// PortalParts are the catalogue parts the public portal shows, besides the
// top level (dates and numbers).
func PortalParts() []string { return []string{"portal"} }

// ConsoleParts are the catalogue parts the hub console shows, besides the
// top level. Its sign-in pages offer passkeys, whose text is the passkey
// part's, shared with the workspace.
func ConsoleParts() []string {
	return []string{"console", "console-community", "console-moderation", "passkey"}
}

// WorkspaceParts are the catalogue parts the node workspace, its sign-in
// pages and its emails show, besides the top level.
func WorkspaceParts() []string {
	return []string{"community", "members", "notifications", "notify", "passkey", "profile",
		"resources", "translations", "workspace", "youth"}
}
