package textdiff

import (
	"slices"
	"strconv"

	"github.com/bikfed/bikfed/protocol"
)

// Field is one field of a resource that differs between two versions: a
// text field with its word diff in Spans, or a list field with the items
// Added and Removed, each in the order the new (Added) or old (Removed)
// version has them.
type Field struct {
	// Name is the body's field: title, description, language, languages,
	// age (age_min and age_max together), audiences, topics, type, licence,
	// url, minisites, or attachments.
	Name    string
	Spans   []Span
	Added   []string
	Removed []string
}

// List reports whether the field is a list, shown as items added and removed.
func (f Field) List() bool { return f.Spans == nil }

// ResourceVersion is a resource body with its attachments, as one version
// of the resource had them.
type ResourceVersion struct {
	Body  protocol.Resource
	Blobs []protocol.BlobRef
}

// Resources returns the fields that differ from old to new, in the order a
// resource's form shows them. Attachments are told apart by content: one
// replaced under the same name is removed and added.
func Resources(old, new ResourceVersion) []Field {
	var out []Field
	text := func(name, a, b string) {
		if a != b {
			out = append(out, Field{Name: name, Spans: Words(a, b)})
		}
	}
	list := func(name string, a, b []string) {
		added, removed := listDiff(a, b)
		if len(added) > 0 || len(removed) > 0 {
			out = append(out, Field{Name: name, Added: added, Removed: removed})
		}
	}
	o, n := old.Body, new.Body
	text("title", o.Title, n.Title)
	text("description", o.Description, n.Description)
	text("language", o.Language, n.Language)
	list("languages", o.Languages, n.Languages)
	text("age", ageRange(o), ageRange(n))
	list("audiences", o.Audiences, n.Audiences)
	list("topics", o.Topics, n.Topics)
	text("type", o.Type, n.Type)
	text("licence", o.Licence, n.Licence)
	text("url", o.URL, n.URL)
	list("minisites", o.Minisites, n.Minisites)
	var added, removed []string
	for _, b := range new.Blobs {
		if !slices.ContainsFunc(old.Blobs, func(x protocol.BlobRef) bool { return x.SHA256 == b.SHA256 }) {
			added = append(added, b.Name)
		}
	}
	for _, b := range old.Blobs {
		if !slices.ContainsFunc(new.Blobs, func(x protocol.BlobRef) bool { return x.SHA256 == b.SHA256 }) {
			removed = append(removed, b.Name)
		}
	}
	if len(added) > 0 || len(removed) > 0 {
		out = append(out, Field{Name: "attachments", Added: added, Removed: removed})
	}
	return out
}

func ageRange(r protocol.Resource) string {
	return strconv.Itoa(r.AgeMin) + "–" + strconv.Itoa(r.AgeMax)
}

// listDiff returns the items of b not in a, and of a not in b.
func listDiff(a, b []string) (added, removed []string) {
	for _, x := range b {
		if !slices.Contains(a, x) {
			added = append(added, x)
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			removed = append(removed, x)
		}
	}
	return added, removed
}
