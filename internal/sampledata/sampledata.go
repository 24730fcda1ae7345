// Package sampledata is realistic sample content for the demo and tests: what
// three national Safer Internet Centres (Belgium, Finland, Portugal) and the
// hub would publish, plus synthetic resources for load tests and benchmarks.
//
// The content lives in embedded NDJSON files, one per node (data/be.ndjson,
// data/fi.ndjson, data/pt.ndjson, data/hub.ndjson). Each line is a draft:
//
//	{"ref":"be-res-1","kind":"resource","visibility":"public","publish_at":null,"body":{...}}
//
// A draft may name attachments ("files"), kept in data/files.
//
// A draft is not yet an entity: it has no id. Its ref names it within the file
// so later drafts can point at it: a body string value that is exactly "@"
// followed by a ref ("@be-res-1") stands for the id of the entity created from
// that draft. Refs always point backwards, so a caller creates the drafts in
// file order, records each new id under its ref, and passes the map to Resolve
// before building the change of the next draft.
package sampledata

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

//go:embed data/*.ndjson data/files
var files embed.FS

// fileTypes are the media types of the sample attachments, by extension:
// the machine's MIME tables may lack some (WebVTT) and must not decide.
var fileTypes = map[string]string{
	".webm": "video/webm",
	".png":  "image/png",
	".vtt":  "text/vtt",
	".pdf":  "application/pdf",
}

// File returns the content and media type of the sample attachment name
// (a name in a draft's Files).
func File(name string) ([]byte, string, error) {
	mediaType, ok := fileTypes[path.Ext(name)]
	if !ok || name != path.Base(name) {
		return nil, "", fmt.Errorf("sample data: no attachment %q", name)
	}
	b, err := files.ReadFile("data/files/" + name)
	if err != nil {
		return nil, "", fmt.Errorf("sample data: %w", err)
	}
	return b, mediaType, nil
}

// Draft is one entity to create: everything of a change that its owner does
// not assign at creation time (id, version, seq, timestamps, key).
type Draft struct {
	// Ref names the draft within its file, for "@ref" references.
	Ref        string              `json:"ref"`
	Kind       protocol.Kind       `json:"kind"`
	Visibility protocol.Visibility `json:"visibility"`
	// PublishAt, when set, embargoes the entity until then.
	PublishAt *time.Time `json:"publish_at"`
	// Body is the kind's body, possibly with "@ref" references: pass it
	// through Resolve before use.
	Body json.RawMessage `json:"body"`
	// Files names the draft's attachments, in order (see File).
	Files []string `json:"files,omitempty"`
}

// Nodes returns the national demo nodes that have sample content, in a fixed
// order. The hub's content is available too, under "hub".
func Nodes() []string { return []string{"be", "fi", "pt"} }

// Drafts returns the sample drafts of node ("be", "fi", "pt" or "hub") in file
// order, the order they must be created in.
func Drafts(node string) ([]Draft, error) {
	if node != protocol.HubID && !slices.Contains(Nodes(), node) {
		return nil, fmt.Errorf("sample data: no content for node %q", node)
	}
	return load("data/" + node + ".ndjson")
}

// Bulletins returns the hub's sample editions of the bulletin
// (data/bulletin.ndjson). Their items point at the other files' content,
// any node's and the hub's: publish them once every file's drafts are
// created, resolving with all their ids.
func Bulletins() ([]Draft, error) { return load("data/bulletin.ndjson") }

func load(name string) ([]Draft, error) {
	raw, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("sample data: %w", err)
	}
	var drafts []Draft
	seen := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), protocol.MaxChangeBytes)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var d Draft
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("sample data: %s:%d: %w", name, line, err)
		}
		switch {
		case !validRef(d.Ref):
			err = fmt.Errorf("ref %q must be lowercase letters and digits in '-'-separated words", d.Ref)
		case seen[d.Ref]:
			err = fmt.Errorf("ref %q repeated", d.Ref)
		case !d.Kind.Known():
			err = fmt.Errorf("unknown kind %q", d.Kind)
		case !d.Visibility.Known():
			err = fmt.Errorf("unknown visibility %q", d.Visibility)
		case len(d.Body) == 0 || string(d.Body) == "null":
			err = errors.New("no body")
		}
		for _, f := range d.Files {
			if _, _, ferr := File(f); ferr != nil && err == nil {
				err = ferr
			}
		}
		if err != nil {
			return nil, fmt.Errorf("sample data: %s:%d: %w", name, line, err)
		}
		seen[d.Ref] = true
		// The decoder's RawMessage aliases the scanner's buffer.
		d.Body = append(json.RawMessage(nil), d.Body...)
		drafts = append(drafts, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sample data: %s: %w", name, err)
	}
	return drafts, nil
}

// Resolve returns a copy of body in which every JSON string value of the form
// "@ref", anywhere in the document, is replaced by ids[ref]. A ref is one or
// more '-'-separated words of lowercase letters and digits, so ordinary text
// that merely starts with '@' ("@ 9:00", "@Anna hi") is left alone, as are
// object keys. Everything else, including key order and whitespace, is kept
// byte for byte. An unknown ref is an error naming it.
func Resolve(body json.RawMessage, ids map[string]string) (json.RawMessage, error) {
	if !json.Valid(body) {
		return nil, errors.New("resolve refs: body is not valid JSON")
	}
	out := make(json.RawMessage, 0, len(body))
	last := 0
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		// body is valid JSON, so outside string literals a quote always opens
		// one: find its closing quote, skipping escapes.
		end := i + 1
		for body[end] != '"' {
			if body[end] == '\\' {
				end++
			}
			end++
		}
		end++ // past the closing quote
		lit := body[i:end]
		next := end
		for next < len(body) && isSpace(body[next]) {
			next++
		}
		isKey := next < len(body) && body[next] == ':'
		if !isKey && len(lit) > 2 && lit[1] == '@' {
			var s string
			if err := json.Unmarshal(lit, &s); err != nil {
				return nil, fmt.Errorf("resolve refs: %w", err)
			}
			if ref := s[1:]; validRef(ref) {
				id, ok := ids[ref]
				if !ok {
					return nil, fmt.Errorf("resolve refs: unknown ref %q", ref)
				}
				enc, err := json.Marshal(id)
				if err != nil {
					return nil, fmt.Errorf("resolve refs: %w", err)
				}
				out = append(out, body[last:i]...)
				out = append(out, enc...)
				last = end
			}
		}
		i = end - 1
	}
	out = append(out, body[last:]...)
	return out, nil
}

// validRef reports whether ref is one or more '-'-separated words of
// lowercase ASCII letters and digits ("be-res-1").
func validRef(ref string) bool {
	if ref == "" || ref[0] == '-' || ref[len(ref)-1] == '-' {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && ref[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
