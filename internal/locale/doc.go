// Package locale holds the interface text of the workspace and the console
// in every language the network speaks, and picks the language a visitor
// reads. docs/languages.md describes the catalogues, the languages and how
// to correct a translation or add a language.
//
// The catalogues are go-i18n's (github.com/nicksnyder/go-i18n/v2) JSON
// message files: catalogues/<lang>.json for the top level and
// catalogues/<part>/<lang>.json for each part of the interface, named by
// the language's code (pt.json is European Portuguese, no.json Bokmål). A
// file maps dotted message ids to text. A message that depends on a count
// maps the id to an object with one entry per CLDR plural category of that
// language, as go-i18n's rule for the language's tag picks them. Text
// carries named placeholders such as {name}; a placeholder is an opening
// brace, a lowercase letter, lowercase letters, digits or underscores, and
// a closing brace, and every other brace is literal text. Parser gives
// go-i18n this syntax instead of Go templates. English is the reference:
// every catalogue has exactly its ids and, id by id, its placeholders, and
// a message missing from a catalogue at run time is shown in English.
//
// Substitution is plain text in, plain text out: a value put into a
// placeholder is never read for placeholders itself, and nothing here
// returns template.HTML, so html/template escapes the result like any other
// string.
//
// The interface languages are listed once, in languages.go, with their
// names in themselves from CLDR. A bundle offers a language when it has
// catalogues for it; a surface (the console, the workspace) offers only
// those complete for the parts it shows (Bundle.For).
//
// Printing is on the hot path of every page: plain messages are resolved
// per language at load time, and a count below a thousand finds its plural
// category in a table read off go-i18n at load time.
package locale
