// Package locale holds the interface text of the workspace and the console
// in every language the network speaks, and picks the language a visitor
// reads.
//
// Each language is one JSON file in catalogues/, named by its language code
// (en.json, nl.json, pt.json for European Portuguese). A file maps dotted
// message ids to text. A message that depends on a count maps the id to an
// object with one entry per CLDR plural category of that language ("one",
// "other", and for French and Portuguese "many"). Text carries named
// placeholders such as {name}; a placeholder is an opening brace, a
// lowercase letter, lowercase letters, digits or underscores, and a closing
// brace, and every other brace is literal text. English is the reference:
// every catalogue has exactly its ids and, id by id, its placeholders, and a
// message missing from a catalogue at run time is shown in English.
//
// Substitution is plain text in, plain text out: a value put into a
// placeholder is never read for placeholders itself, and nothing here
// returns template.HTML, so html/template escapes the result like any other
// string.
//
// Adding a language is adding its catalogue; if its plural rule is not one
// of those in plural.go, that rule is added there too.
package locale
