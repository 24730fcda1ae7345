package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Version is the protocol version this package speaks.
const Version = 1

// Kind is an entity kind.
type Kind string

// The entity kinds of protocol v1.
const (
	KindResource    Kind = "resource"
	KindTranslation Kind = "translation"
	KindPost        Kind = "post"
	KindComment     Kind = "comment"
	KindProfile     Kind = "profile"
	KindService     Kind = "service"
	KindModeration  Kind = "moderation"
)

// Kinds lists every kind, in the order documentation shows them.
var Kinds = []Kind{KindResource, KindTranslation, KindPost, KindComment, KindProfile, KindService, KindModeration}

// HubOnly reports whether only the hub may own entities of kind k.
func (k Kind) HubOnly() bool { return k == KindService || k == KindModeration }

// Known reports whether k is a kind of this protocol version.
func (k Kind) Known() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Visibility says who may see an entity.
type Visibility string

// The visibilities. Only public entities may reach a public surface.
const (
	VisibilityPublic    Visibility = "public"
	VisibilityCommunity Visibility = "community"
	VisibilityYouth     Visibility = "youth"
)

// Known reports whether v is a visibility of this protocol version.
func (v Visibility) Known() bool {
	return v == VisibilityPublic || v == VisibilityCommunity || v == VisibilityYouth
}

// Change is one version of one entity: the envelope and the kind's body. It is
// what an owner signs. Its JSON encoding is produced once, by the owner, and
// travels verbatim from then on.
type Change struct {
	Protocol   int             `json:"v"`
	ID         string          `json:"id"`
	Kind       Kind            `json:"kind"`
	Owner      string          `json:"owner"`
	Version    int64           `json:"version"`
	Seq        int64           `json:"seq"`
	UpdatedAt  time.Time       `json:"updated_at"`
	Visibility Visibility      `json:"visibility"`
	PublishAt  *time.Time      `json:"publish_at,omitempty"`
	Deleted    bool            `json:"deleted,omitempty"`
	Erased     bool            `json:"erased,omitempty"`
	Body       json.RawMessage `json:"body,omitempty"`
	Blobs      []BlobRef       `json:"blobs,omitempty"`
	KeyID      string          `json:"key_id"`
}

// BlobRef references an attachment by content. The blob is uploaded before the
// change that references it.
type BlobRef struct {
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type"`
	Name      string `json:"name"`
}

// Limits of protocol v1. A record or request beyond them is refused with
// record_too_large or batch_too_large.
const (
	MaxChangeBytes  = 256 << 10 // one change's JSON, body included
	MaxBatchChanges = 1000      // changes in one push
	MaxBatchBytes   = 16 << 20  // one push, decompressed
	MaxFeedPage     = 1000      // changes in one feed page
	MaxBlobsPerItem = 32
	MaxBlobSize     = 8 << 30
	MaxTextField    = 64 << 10 // a post's body or a description
	MaxShortField   = 512      // titles, names
	MaxListLen      = 32       // languages, topics, audiences
)

// ParseChange decodes and validates the JSON of a change. It is strict: unknown
// fields are refused, so a typo never silently drops data, and so is any JSON
// that another implementation could read differently (see checkStrictJSON).
func ParseChange(raw []byte) (*Change, error) {
	if len(raw) > MaxChangeBytes {
		return nil, Errorf(CodeRecordTooLarge, "change is %d bytes, limit %d", len(raw), MaxChangeBytes)
	}
	var c Change
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, Errorf(CodeMalformedJSON, "decode change: %v", err)
	}
	if err := checkStrictJSON(raw); err != nil {
		return nil, Errorf(CodeMalformedJSON, "decode change: %v", err)
	}
	if err := c.Validate(); err != nil {
		return &c, err
	}
	return &c, nil
}

// checkStrictJSON refuses what encoding/json tolerates but other JSON parsers
// read differently, because a signature is only worth something if every
// implementation sees the same change in the same bytes: duplicate member names
// (first or last wins, depending on the parser), member names that only match a
// field case-insensitively ("Visibility", "ſeq"), invalid UTF-8 (silently
// replaced), anything after the value, and line breaks, which would split the
// change across lines of a push body.
//
// raw must start with a value encoding/json has already decoded, so syntax is
// not checked again; this is a single pass without allocations for the usual
// change, a fraction of the cost of a signature check.
func checkStrictJSON(raw []byte) error {
	if i := bytes.IndexAny(raw, "\r\n"); i >= 0 {
		return fmt.Errorf("line break at byte %d: a change is one line", i)
	}
	if !utf8.Valid(raw) {
		return fmt.Errorf("not valid UTF-8")
	}
	type frame struct {
		object bool
		names  int // where this object's member names start in names
	}
	const (
		wantValue = iota
		wantName
		afterValue
	)
	var (
		stackBuf [8]frame
		namesBuf [32][]byte
		stack    = stackBuf[:0]
		names    = namesBuf[:0]
	)
	state, i := wantValue, 0
	// pop closes the innermost object or array with the delimiter at i.
	pop := func(object bool) error {
		if len(stack) == 0 || stack[len(stack)-1].object != object {
			return fmt.Errorf("unbalanced %q at byte %d", raw[i], i)
		}
		names = names[:stack[len(stack)-1].names]
		stack = stack[:len(stack)-1]
		return nil
	}
	for {
		for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t') {
			i++
		}
		if i == len(raw) {
			if state == afterValue && len(stack) == 0 {
				return nil
			}
			return fmt.Errorf("unexpected end of the change")
		}
		c := raw[i]
		switch {
		case state == afterValue && len(stack) == 0:
			return fmt.Errorf("data after the change at byte %d", i)
		case state == afterValue && c == ',':
			i++
			state = wantValue
			if stack[len(stack)-1].object {
				state = wantName
			}
		case (state == afterValue || state == wantName) && c == '}', (state == afterValue || state == wantValue) && c == ']':
			if err := pop(c == '}'); err != nil {
				return err
			}
			i++
			state = afterValue
		case state == wantName && c == '"':
			end := endOfString(raw, i)
			if end < 0 {
				return fmt.Errorf("unterminated member name at byte %d", i)
			}
			name := raw[i+1 : end-1]
			if bytes.IndexByte(name, '\\') >= 0 {
				var s string
				if err := json.Unmarshal(raw[i:end], &s); err != nil {
					return fmt.Errorf("member name at byte %d: %v", i, err)
				}
				name = []byte(s)
			}
			if !plainMemberName(name) {
				return fmt.Errorf("member name %q is not lowercase ASCII", name)
			}
			// No object of the protocol has more than a few members, so this
			// linear search stays short; the cap keeps it so for any input.
			own := names[stack[len(stack)-1].names:]
			if len(own) >= 64 {
				return fmt.Errorf("object with more than 64 members at byte %d", i)
			}
			for _, n := range own {
				if bytes.Equal(n, name) {
					return fmt.Errorf("member %q repeated", name)
				}
			}
			names = append(names, name)
			i = end
			for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t') {
				i++
			}
			if i == len(raw) || raw[i] != ':' {
				return fmt.Errorf("missing ':' after member %q", name)
			}
			i++
			state = wantValue
		case state == wantValue && len(stack) == 0 && c != '{':
			return fmt.Errorf("a change is a JSON object")
		case state == wantValue && (c == '{' || c == '['):
			stack = append(stack, frame{object: c == '{', names: len(names)})
			i++
			state = wantValue
			if c == '{' {
				state = wantName
			}
		case state == wantValue && c == '"':
			end := endOfString(raw, i)
			if end < 0 {
				return fmt.Errorf("unterminated string at byte %d", i)
			}
			i, state = end, afterValue
		case state == wantValue:
			start := i
			for i < len(raw) && raw[i] != ',' && raw[i] != ']' && raw[i] != '}' && raw[i] != ' ' && raw[i] != '\t' {
				i++
			}
			if i == start {
				return fmt.Errorf("unexpected %q at byte %d", c, i)
			}
			state = afterValue
		default:
			return fmt.Errorf("unexpected %q at byte %d", c, i)
		}
	}
}

// endOfString returns the index just past the string that starts at raw[i],
// or -1 if it does not end.
func endOfString(raw []byte, i int) int {
	for k := i + 1; k < len(raw); k++ {
		switch raw[k] {
		case '\\':
			k++
		case '"':
			return k + 1
		}
	}
	return -1
}

// plainMemberName reports whether name could be a member of protocol v1: every
// one is lowercase ASCII letters, digits and '_'.
func plainMemberName(name []byte) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return len(name) > 0
}

// FieldError names one invalid field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of a change, so an editor fixes
// them all at once.
type ValidationError struct {
	Code   Code         `json:"code"`
	Fields []FieldError `json:"fields"`
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Is matches protocol errors of the same code, so errors.Is(err, ErrInvalidField) works.
func (e *ValidationError) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// As lets errors.As(err, &e) with e a *Error see a validation error as the
// protocol error it travels as, so ErrorCode and error responses keep its code
// instead of reporting it as internal.
func (e *ValidationError) As(target any) bool {
	if t, ok := target.(**Error); ok {
		*t = e.AsError()
		return true
	}
	return false
}

// AsError turns the validation error into a protocol error for the wire.
func (e *ValidationError) AsError() *Error { return &Error{Code: e.Code, Message: e.Error()} }

type fieldErrors struct {
	code   Code
	fields []FieldError
}

func (v *fieldErrors) add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *fieldErrors) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	code := v.code
	if code == "" {
		code = CodeInvalidField
	}
	return &ValidationError{Code: code, Fields: v.fields}
}

// Validate checks the envelope and the body against protocol v1.
func (c *Change) Validate() error {
	if c.Protocol != Version {
		return Errorf(CodeUnsupportedProtocol, "protocol version %d, this hub speaks %d", c.Protocol, Version)
	}
	if !c.Kind.Known() {
		return Errorf(CodeUnknownKind, "unknown kind %q", c.Kind)
	}
	v := &fieldErrors{}
	if err := ValidNodeID(c.Owner); err != nil {
		v.add("owner", "%v", err)
	}
	if owner, err := SplitEntityID(c.ID); err != nil {
		v.add("id", "%v", err)
	} else if owner != c.Owner {
		v.add("id", "id %q is not owned by %q", c.ID, c.Owner)
	}
	if c.Kind.HubOnly() && c.Owner != HubID {
		v.add("kind", "%s entities are owned by the hub", c.Kind)
	}
	if c.Version < 1 {
		v.add("version", "must be at least 1")
	}
	if c.Seq < 1 {
		v.add("seq", "must be at least 1")
	}
	if c.UpdatedAt.IsZero() {
		v.add("updated_at", "required")
	}
	if !c.Visibility.Known() {
		v.add("visibility", "%q is not public, community or youth", c.Visibility)
	}
	if !strings.HasPrefix(c.KeyID, c.Owner+"-") {
		v.add("key_id", "key %q is not a key of %q", c.KeyID, c.Owner)
	}
	if c.Erased && !c.Deleted {
		v.add("erased", "an erasure is also a delete")
	}
	if len(c.Blobs) > MaxBlobsPerItem {
		v.add("blobs", "%d attachments, limit %d", len(c.Blobs), MaxBlobsPerItem)
	}
	for i, b := range c.Blobs {
		validateBlob(v, fmt.Sprintf("blobs[%d]", i), b)
	}
	if c.Deleted {
		if len(c.Body) != 0 && string(c.Body) != "null" {
			v.add("body", "a deleted entity carries no body")
		}
		if c.Erased && len(c.Blobs) > 0 {
			v.add("blobs", "an erased entity carries no attachments")
		}
		return v.err()
	}
	if len(c.Body) == 0 || string(c.Body) == "null" {
		v.add("body", "required")
		return v.err()
	}
	body, err := DecodeBody(c.Kind, c.Body)
	if err != nil {
		return err
	}
	body.validate(v, c)
	return v.err()
}

func validateBlob(v *fieldErrors, field string, b BlobRef) {
	if len(b.SHA256) != 64 || strings.Trim(b.SHA256, "0123456789abcdef") != "" {
		v.add(field+".sha256", "must be 64 lowercase hex digits")
	}
	if b.Size < 0 || b.Size > MaxBlobSize {
		v.add(field+".size", "must be between 0 and %d", int64(MaxBlobSize))
	}
	if mt, _, err := mime.ParseMediaType(b.MediaType); err != nil || !strings.Contains(mt, "/") {
		v.add(field+".media_type", "%q is not a media type", b.MediaType)
	}
	if err := ValidBlobName(b.Name); err != nil {
		v.add(field+".name", "%v", err)
	}
}

// ValidBlobName refuses attachment names that could escape a directory or hide
// characters: a name is a single path element of printable characters.
func ValidBlobName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("required")
	case len(name) > 255:
		return fmt.Errorf("longer than 255 bytes")
	case !utf8.ValidString(name):
		return fmt.Errorf("not valid UTF-8")
	case name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.Contains(name, ".."):
		return fmt.Errorf("%q is not a plain file name", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%q has control characters", name)
		}
	}
	return nil
}

// Body is the kind-specific part of a change.
type Body interface {
	validate(v *fieldErrors, c *Change)
}

// DecodeBody decodes raw into the body type of kind, refusing unknown fields.
func DecodeBody(kind Kind, raw json.RawMessage) (Body, error) {
	var b Body
	switch kind {
	case KindResource:
		b = new(Resource)
	case KindTranslation:
		b = new(Translation)
	case KindPost:
		b = new(Post)
	case KindComment:
		b = new(Comment)
	case KindProfile:
		b = new(Profile)
	case KindService:
		b = new(Service)
	case KindModeration:
		b = new(Moderation)
	default:
		return nil, Errorf(CodeUnknownKind, "unknown kind %q", kind)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(b); err != nil {
		return nil, Errorf(CodeMalformedJSON, "decode %s body: %v", kind, err)
	}
	return b, nil
}
