package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
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
	KindFlag        Kind = "flag"
	KindEvent       Kind = "event"
	KindBulletin    Kind = "bulletin"
)

// Kinds lists every kind, in the order documentation shows them.
var Kinds = []Kind{KindResource, KindTranslation, KindPost, KindComment, KindProfile, KindService, KindModeration, KindFlag, KindEvent, KindBulletin}

// HubOnly reports whether only the hub may own entities of kind k.
func (k Kind) HubOnly() bool { return k == KindService || k == KindModeration || k == KindBulletin }

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
	// Nearly every change arrives as json.Marshal wrote it, and decoding it
	// by hand costs a fraction of encoding/json; anything the fast decoder is
	// not sure of goes the general way, which alone decides what is refused.
	if c, body, ok := decodeChangeFast(raw); ok {
		if err := c.validate(body); err != nil {
			return c, err
		}
		return c, nil
	}
	return parseChangeSlow(raw)
}

// parseChangeSlow is ParseChange with encoding/json: it takes any input and
// gives every refusal its message.
func parseChangeSlow(raw []byte) (*Change, error) {
	c, err := decodeChangeSlow(raw)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// decodeChangeSlow decodes a change with encoding/json and checkStrictJSON,
// without validating it.
func decodeChangeSlow(raw []byte) (*Change, error) {
	var c Change
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, Errorf(CodeMalformedJSON, "decode change: %v", err)
	}
	if err := checkStrictJSON(raw); err != nil {
		return nil, Errorf(CodeMalformedJSON, "decode change: %v", err)
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

// refuse is add for a field whose error has its own code. The change is
// refused with the first such code; a forged author outranks the others,
// since it is the one a reader must not miss.
func (v *fieldErrors) refuse(code Code, field, format string, args ...any) {
	if v.code == "" || code == CodeInvalidAuthor {
		v.code = code
	}
	v.add(field, format, args...)
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
func (c *Change) Validate() error { return c.validate(nil) }

// validate is Validate with the body already decoded from c.Body, or nil to
// decode it here.
func (c *Change) validate(body Body) error {
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
	if !strings.HasPrefix(c.KeyID, c.Owner+"-") && !c.IsHubErasure() {
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
	if body == nil {
		var err error
		if body, err = DecodeBody(c.Kind, c.Body); err != nil {
			return err
		}
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
	if r, ok := BidiControl(name); ok {
		return fmt.Errorf("%q has the bidirectional control U+%04X", name, r)
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
	case KindFlag:
		b = new(Flag)
	case KindEvent:
		b = new(Event)
	case KindBulletin:
		b = new(Bulletin)
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

// The fast decoder reads a change as json.Marshal writes it: no insignificant
// space, only members its type declares, each at most once, and values of the
// member's type (strings, integers, booleans, lists, known objects). On
// anything else (null, a fraction or an exponent, a surrogate escape, a space,
// an unknown or repeated member, invalid UTF-8, the body before the kind) it
// gives up and encoding/json decides. So it accepts only what the slow path
// accepts, with the same values (FuzzDecodeChangeFast holds it to that), and
// it refuses nothing: every refusal and its message come from the slow path.

// fastDecoder is a position in the JSON of one change. s is b as a string:
// strings without escapes are taken from it, so all of them together cost one
// allocation.
type fastDecoder struct {
	b []byte
	s string
	i int
}

// fastField decodes the value of one member of a T.
type fastField[T any] struct {
	name string
	dec  func(d *fastDecoder, v *T) bool
}

// fastChange is a change with its body decoded along the way.
type fastChange struct {
	c         Change
	body      Body
	bodyFirst bool // the body came before the kind: decode it at the end
}

// decodeChangeFast decodes raw, reporting false whenever the slow path must.
func decodeChangeFast(raw []byte) (*Change, Body, bool) {
	// Inside strings, the decoder copies bytes as they are, which is what
	// encoding/json does with valid UTF-8 only.
	if !utf8.Valid(raw) {
		return nil, nil, false
	}
	d := fastDecoder{b: raw, s: string(raw)}
	f := new(fastChange)
	if !decodeObject(&d, f, changeFields) || d.i != len(raw) {
		return nil, nil, false
	}
	if f.bodyFirst {
		bd := fastDecoder{b: f.c.Body, s: string(f.c.Body)}
		if f.body = decodeBodyAs(f.c.Kind, &bd); f.body == nil || bd.i != len(bd.b) {
			return nil, nil, false
		}
	}
	return &f.c, f.body, true
}

var changeFields = []fastField[fastChange]{
	{"v", func(d *fastDecoder, f *fastChange) bool { return d.int(&f.c.Protocol) }},
	{"id", func(d *fastDecoder, f *fastChange) bool { return d.str(&f.c.ID) }},
	{"kind", func(d *fastDecoder, f *fastChange) bool { return d.str((*string)(&f.c.Kind)) }},
	{"owner", func(d *fastDecoder, f *fastChange) bool { return d.str(&f.c.Owner) }},
	{"version", func(d *fastDecoder, f *fastChange) bool { return d.int64(&f.c.Version) }},
	{"seq", func(d *fastDecoder, f *fastChange) bool { return d.int64(&f.c.Seq) }},
	{"updated_at", func(d *fastDecoder, f *fastChange) bool { return d.time(&f.c.UpdatedAt) }},
	{"visibility", func(d *fastDecoder, f *fastChange) bool { return d.str((*string)(&f.c.Visibility)) }},
	{"publish_at", func(d *fastDecoder, f *fastChange) bool {
		t := new(time.Time)
		f.c.PublishAt = t
		return d.time(t)
	}},
	{"deleted", func(d *fastDecoder, f *fastChange) bool { return d.bool(&f.c.Deleted) }},
	{"erased", func(d *fastDecoder, f *fastChange) bool { return d.bool(&f.c.Erased) }},
	{"body", decodeBodyFast},
	{"blobs", func(d *fastDecoder, f *fastChange) bool {
		return decodeList(d, &f.c.Blobs, func(d *fastDecoder, b *BlobRef) bool { return decodeObject(d, b, blobFields) })
	}},
	{"key_id", func(d *fastDecoder, f *fastChange) bool { return d.str(&f.c.KeyID) }},
}

// decodeBodyFast decodes the body as the kind says, and keeps its bytes as
// encoding/json would in Change.Body. A body before the kind (encoders that
// sort members write it so) is only delimited here and decoded at the end.
func decodeBodyFast(d *fastDecoder, f *fastChange) bool {
	start := d.i
	if f.c.Kind == "" {
		if !d.skipObject() {
			return false
		}
		f.bodyFirst = true
	} else if f.body = decodeBodyAs(f.c.Kind, d); f.body == nil {
		return false
	}
	f.c.Body = bytes.Clone(d.b[start:d.i])
	return true
}

// decodeBodyAs decodes the body object at d as kind, or returns nil.
func decodeBodyAs(kind Kind, d *fastDecoder) Body {
	var ok bool
	switch kind {
	case KindResource:
		b := new(Resource)
		if ok = decodeObject(d, b, resourceFields); ok {
			return b
		}
	case KindTranslation:
		b := new(Translation)
		if ok = decodeObject(d, b, translationFields); ok {
			return b
		}
	case KindPost:
		b := new(Post)
		if ok = decodeObject(d, b, postFields); ok {
			return b
		}
	case KindComment:
		b := new(Comment)
		if ok = decodeObject(d, b, commentFields); ok {
			return b
		}
	case KindProfile:
		b := new(Profile)
		if ok = decodeObject(d, b, profileFields); ok {
			return b
		}
	case KindService:
		b := new(Service)
		if ok = decodeObject(d, b, serviceFields); ok {
			return b
		}
	case KindModeration:
		b := new(Moderation)
		if ok = decodeObject(d, b, moderationFields); ok {
			return b
		}
	case KindFlag:
		b := new(Flag)
		if ok = decodeObject(d, b, flagFields); ok {
			return b
		}
	case KindEvent:
		b := new(Event)
		if ok = decodeObject(d, b, eventFields); ok {
			return b
		}
	case KindBulletin:
		b := new(Bulletin)
		if ok = decodeObject(d, b, bulletinFields); ok {
			return b
		}
	}
	return nil
}

// skipObject moves past the object at d. It only finds where the object
// ends; whatever it passes over is decoded later or not accepted.
func (d *fastDecoder) skipObject() bool {
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return false
	}
	depth := 0
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case '"':
			end, _ := d.strEnd()
			if end < 0 {
				return false
			}
			d.i = end
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				d.i++
				return true
			}
		}
		d.i++
	}
	return false
}

var blobFields = []fastField[BlobRef]{
	{"sha256", func(d *fastDecoder, b *BlobRef) bool { return d.str(&b.SHA256) }},
	{"size", func(d *fastDecoder, b *BlobRef) bool { return d.int64(&b.Size) }},
	{"media_type", func(d *fastDecoder, b *BlobRef) bool { return d.str(&b.MediaType) }},
	{"name", func(d *fastDecoder, b *BlobRef) bool { return d.str(&b.Name) }},
}

var resourceFields = []fastField[Resource]{
	{"title", func(d *fastDecoder, r *Resource) bool { return d.str(&r.Title) }},
	{"description", func(d *fastDecoder, r *Resource) bool { return d.str(&r.Description) }},
	{"language", func(d *fastDecoder, r *Resource) bool { return d.str(&r.Language) }},
	{"languages", func(d *fastDecoder, r *Resource) bool { return decodeList(d, &r.Languages, (*fastDecoder).str) }},
	{"age_min", func(d *fastDecoder, r *Resource) bool { return d.int(&r.AgeMin) }},
	{"age_max", func(d *fastDecoder, r *Resource) bool { return d.int(&r.AgeMax) }},
	{"audiences", func(d *fastDecoder, r *Resource) bool { return decodeList(d, &r.Audiences, (*fastDecoder).str) }},
	{"topics", func(d *fastDecoder, r *Resource) bool { return decodeList(d, &r.Topics, (*fastDecoder).str) }},
	{"type", func(d *fastDecoder, r *Resource) bool { return d.str(&r.Type) }},
	{"licence", func(d *fastDecoder, r *Resource) bool { return d.str(&r.Licence) }},
	{"url", func(d *fastDecoder, r *Resource) bool { return d.str(&r.URL) }},
	{"minisites", func(d *fastDecoder, r *Resource) bool { return decodeList(d, &r.Minisites, (*fastDecoder).str) }},
}

var translationFields = []fastField[Translation]{
	{"resource", func(d *fastDecoder, t *Translation) bool { return d.str(&t.Resource) }},
	{"source_version", func(d *fastDecoder, t *Translation) bool { return d.int64(&t.SourceVersion) }},
	{"language", func(d *fastDecoder, t *Translation) bool { return d.str(&t.Language) }},
	{"title", func(d *fastDecoder, t *Translation) bool { return d.str(&t.Title) }},
	{"description", func(d *fastDecoder, t *Translation) bool { return d.str(&t.Description) }},
	{"url", func(d *fastDecoder, t *Translation) bool { return d.str(&t.URL) }},
	{"method", func(d *fastDecoder, t *Translation) bool { return d.str(&t.Method) }},
	{"review", func(d *fastDecoder, t *Translation) bool { return d.str(&t.Review) }},
}

var postFields = []fastField[Post]{
	{"space", func(d *fastDecoder, p *Post) bool { return d.str(&p.Space) }},
	{"format", func(d *fastDecoder, p *Post) bool { return d.str(&p.Format) }},
	{"title", func(d *fastDecoder, p *Post) bool { return d.str(&p.Title) }},
	{"text", func(d *fastDecoder, p *Post) bool { return d.str(&p.Text) }},
	{"language", func(d *fastDecoder, p *Post) bool { return d.str(&p.Language) }},
	{"author", func(d *fastDecoder, p *Post) bool { return decodeObject(d, &p.Author, authorFields) }},
	{"tags", func(d *fastDecoder, p *Post) bool { return decodeList(d, &p.Tags, (*fastDecoder).str) }},
}

var commentFields = []fastField[Comment]{
	{"post", func(d *fastDecoder, m *Comment) bool { return d.str(&m.Post) }},
	{"text", func(d *fastDecoder, m *Comment) bool { return d.str(&m.Text) }},
	{"language", func(d *fastDecoder, m *Comment) bool { return d.str(&m.Language) }},
	{"author", func(d *fastDecoder, m *Comment) bool { return decodeObject(d, &m.Author, authorFields) }},
}

var authorFields = []fastField[Author]{
	{"name", func(d *fastDecoder, a *Author) bool { return d.str(&a.Name) }},
	{"sic", func(d *fastDecoder, a *Author) bool { return d.str(&a.SIC) }},
	{"pseudonym", func(d *fastDecoder, a *Author) bool { return d.str(&a.Pseudonym) }},
}

var profileFields = []fastField[Profile]{
	{"country", func(d *fastDecoder, p *Profile) bool { return d.str(&p.Country) }},
	{"name", func(d *fastDecoder, p *Profile) bool { return d.str(&p.Name) }},
	{"languages", func(d *fastDecoder, p *Profile) bool { return decodeList(d, &p.Languages, (*fastDecoder).str) }},
	{"website", func(d *fastDecoder, p *Profile) bool { return d.str(&p.Website) }},
	{"awareness", func(d *fastDecoder, p *Profile) bool {
		p.Awareness = new(Awareness)
		return decodeObject(d, p.Awareness, awarenessFields)
	}},
	{"helpline", func(d *fastDecoder, p *Profile) bool {
		p.Helpline = new(Helpline)
		return decodeObject(d, p.Helpline, helplineFields)
	}},
	{"hotline", func(d *fastDecoder, p *Profile) bool {
		p.Hotline = new(Hotline)
		return decodeObject(d, p.Hotline, hotlineFields)
	}},
	{"youth_panel", func(d *fastDecoder, p *Profile) bool {
		p.YouthPanel = new(YouthPanel)
		return decodeObject(d, p.YouthPanel, youthPanelFields)
	}},
}

var awarenessFields = []fastField[Awareness]{
	{"name", func(d *fastDecoder, a *Awareness) bool { return d.str(&a.Name) }},
	{"url", func(d *fastDecoder, a *Awareness) bool { return d.str(&a.URL) }},
}

var helplineFields = []fastField[Helpline]{
	{"name", func(d *fastDecoder, h *Helpline) bool { return d.str(&h.Name) }},
	{"phone", func(d *fastDecoder, h *Helpline) bool { return d.str(&h.Phone) }},
	{"chat", func(d *fastDecoder, h *Helpline) bool { return d.str(&h.Chat) }},
	{"email", func(d *fastDecoder, h *Helpline) bool { return d.str(&h.Email) }},
	{"hours", func(d *fastDecoder, h *Helpline) bool { return d.str(&h.Hours) }},
	{"url", func(d *fastDecoder, h *Helpline) bool { return d.str(&h.URL) }},
}

var hotlineFields = []fastField[Hotline]{
	{"name", func(d *fastDecoder, h *Hotline) bool { return d.str(&h.Name) }},
	{"report_url", func(d *fastDecoder, h *Hotline) bool { return d.str(&h.ReportURL) }},
}

var youthPanelFields = []fastField[YouthPanel]{
	{"name", func(d *fastDecoder, y *YouthPanel) bool { return d.str(&y.Name) }},
	{"url", func(d *fastDecoder, y *YouthPanel) bool { return d.str(&y.URL) }},
}

var serviceFields = []fastField[Service]{
	{"name", func(d *fastDecoder, s *Service) bool { return d.str(&s.Name) }},
	{"category", func(d *fastDecoder, s *Service) bool { return d.str(&s.Category) }},
	{"description", func(d *fastDecoder, s *Service) bool { return d.str(&s.Description) }},
	{"url", func(d *fastDecoder, s *Service) bool { return d.str(&s.URL) }},
	{"minimum_age", func(d *fastDecoder, s *Service) bool { return d.int(&s.MinimumAge) }},
	{"safety_features", func(d *fastDecoder, s *Service) bool { return decodeList(d, &s.SafetyFeatures, (*fastDecoder).str) }},
	{"how_to_report", func(d *fastDecoder, s *Service) bool { return d.str(&s.HowToReport) }},
	{"language", func(d *fastDecoder, s *Service) bool { return d.str(&s.Language) }},
	{"slug", func(d *fastDecoder, s *Service) bool { return d.str(&s.Slug) }},
	{"no_minimum_age", func(d *fastDecoder, s *Service) bool { return d.bool(&s.NoMinimumAge) }},
	{"pegi", func(d *fastDecoder, s *Service) bool { return d.int(&s.PEGI) }},
	{"app_store_age", func(d *fastDecoder, s *Service) bool { return d.str(&s.AppStoreAge) }},
	{"privacy_features", func(d *fastDecoder, s *Service) bool { return decodeList(d, &s.PrivacyFeatures, (*fastDecoder).str) }},
	{"parental_controls", func(d *fastDecoder, s *Service) bool { return decodeList(d, &s.ParentalControls, (*fastDecoder).str) }},
	{"features", func(d *fastDecoder, s *Service) bool { return decodeList(d, &s.Features, (*fastDecoder).str) }},
	{"report_url", func(d *fastDecoder, s *Service) bool { return d.str(&s.ReportURL) }},
	{"how_to_block", func(d *fastDecoder, s *Service) bool { return d.str(&s.HowToBlock) }},
	{"block_url", func(d *fastDecoder, s *Service) bool { return d.str(&s.BlockURL) }},
	{"topics", func(d *fastDecoder, s *Service) bool { return decodeList(d, &s.Topics, (*fastDecoder).str) }},
	{"versions", func(d *fastDecoder, s *Service) bool {
		return decodeList(d, &s.Versions, func(d *fastDecoder, sv *ServiceVersion) bool { return decodeObject(d, sv, serviceVersionFields) })
	}},
}

var serviceVersionFields = []fastField[ServiceVersion]{
	{"language", func(d *fastDecoder, s *ServiceVersion) bool { return d.str(&s.Language) }},
	{"description", func(d *fastDecoder, s *ServiceVersion) bool { return d.str(&s.Description) }},
	{"safety_features", func(d *fastDecoder, s *ServiceVersion) bool {
		return decodeList(d, &s.SafetyFeatures, (*fastDecoder).str)
	}},
	{"privacy_features", func(d *fastDecoder, s *ServiceVersion) bool {
		return decodeList(d, &s.PrivacyFeatures, (*fastDecoder).str)
	}},
	{"parental_controls", func(d *fastDecoder, s *ServiceVersion) bool {
		return decodeList(d, &s.ParentalControls, (*fastDecoder).str)
	}},
	{"how_to_report", func(d *fastDecoder, s *ServiceVersion) bool { return d.str(&s.HowToReport) }},
	{"report_url", func(d *fastDecoder, s *ServiceVersion) bool { return d.str(&s.ReportURL) }},
	{"how_to_block", func(d *fastDecoder, s *ServiceVersion) bool { return d.str(&s.HowToBlock) }},
	{"block_url", func(d *fastDecoder, s *ServiceVersion) bool { return d.str(&s.BlockURL) }},
}

var moderationFields = []fastField[Moderation]{
	{"target", func(d *fastDecoder, m *Moderation) bool { return d.str(&m.Target) }},
	{"decision", func(d *fastDecoder, m *Moderation) bool { return d.str(&m.Decision) }},
	{"reason", func(d *fastDecoder, m *Moderation) bool { return d.str(&m.Reason) }},
}

var flagFields = []fastField[Flag]{
	{"target", func(d *fastDecoder, f *Flag) bool { return d.str(&f.Target) }},
	{"reason", func(d *fastDecoder, f *Flag) bool { return d.str(&f.Reason) }},
	{"text", func(d *fastDecoder, f *Flag) bool { return d.str(&f.Text) }},
	{"author", func(d *fastDecoder, f *Flag) bool { return decodeObject(d, &f.Author, authorFields) }},
}

// decodeObject decodes an object into v, member by member, with fields. A
// member fields does not name, or one seen twice, stops it.
func decodeObject[T any](d *fastDecoder, v *T, fields []fastField[T]) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	var seen uint64 // no type has 64 fields
	for {
		name, ok := d.name()
		if !ok || !d.consume(':') {
			return false
		}
		k := 0
		for k < len(fields) && fields[k].name != string(name) {
			k++
		}
		if k == len(fields) || k >= 64 || seen&(1<<k) != 0 || !fields[k].dec(d, v) {
			return false
		}
		seen |= 1 << k
		if !d.consume(',') {
			return d.consume('}')
		}
	}
}

// decodeList decodes an array. Like encoding/json, an empty array makes an
// empty list, not a nil one.
func decodeList[T any](d *fastDecoder, list *[]T, elem func(*fastDecoder, *T) bool) bool {
	if !d.consume('[') {
		return false
	}
	out := make([]T, 0, 4)
	if !d.consume(']') {
		for {
			var e T
			if !elem(d, &e) {
				return false
			}
			out = append(out, e)
			if !d.consume(',') {
				if !d.consume(']') {
					return false
				}
				break
			}
		}
	}
	*list = out
	return true
}

func (d *fastDecoder) consume(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// name reads a member name of the protocol's form, with no escapes.
func (d *fastDecoder) name() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if c == '"' {
			d.i++
			return d.b[start : d.i-1], d.i-1 > start
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// strEnd returns the end of the string token at d.i and whether it has
// escapes, or -1 for anything encoding/json might read differently.
func (d *fastDecoder) strEnd() (end int, escaped bool) {
	b := d.b
	if d.i >= len(b) || b[d.i] != '"' {
		return -1, false
	}
	j := d.i + 1
	// Eight bytes at a time past the plain ones: none is a quote, a backslash
	// or a control character.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; j+8 <= len(b); j += 8 {
		w := binary.LittleEndian.Uint64(b[j:])
		q, bs := w^(ones*'"'), w^(ones*'\\')
		if ((w-ones*0x20)&^w|(q-ones)&^q|(bs-ones)&^bs)&highs != 0 {
			break
		}
	}
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			return -1, false
		}
	}
	return -1, false
}

func (d *fastDecoder) str(s *string) bool {
	end, escaped := d.strEnd()
	if end < 0 {
		return false
	}
	if !escaped {
		*s = d.s[d.i+1 : end-1]
		d.i = end
		return true
	}
	tok, ok := unescape(d.b[d.i+1 : end-1])
	if !ok {
		return false
	}
	*s = string(tok)
	d.i = end
	return true
}

// unescape decodes the escapes of a string's contents as encoding/json does,
// except surrogate escapes, which it leaves to encoding/json.
func unescape(s []byte) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return nil, false
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(s) {
				return nil, false
			}
			r, err := strconv.ParseUint(string(s[i+2:i+6]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				return nil, false
			}
			out = utf8.AppendRune(out, rune(r))
			i += 6
			continue
		default:
			return nil, false
		}
		i += 2
	}
	return out, true
}

// skipValue moves past the JSON value at d, reporting false unless it is sure
// the value is valid JSON as encoding/json reads it (no insignificant space,
// no deep nesting). Strings are not checked for UTF-8: JSON syntax does not
// ask for it, ParseChange does.
func (d *fastDecoder) skipValue(depth int) bool {
	if d.i >= len(d.b) || depth > 32 {
		return false
	}
	switch c := d.b[d.i]; {
	case c == '{':
		d.i++
		if d.consume('}') {
			return true
		}
		for {
			if !d.skipString() || !d.consume(':') || !d.skipValue(depth+1) {
				return false
			}
			if !d.consume(',') {
				return d.consume('}')
			}
		}
	case c == '[':
		d.i++
		if d.consume(']') {
			return true
		}
		for {
			if !d.skipValue(depth + 1) {
				return false
			}
			if !d.consume(',') {
				return d.consume(']')
			}
		}
	case c == '"':
		return d.skipString()
	case c == '-' || c >= '0' && c <= '9':
		return d.skipNumber()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(d.b[d.i:], []byte(lit)) {
			d.i += len(lit)
			return true
		}
	}
	return false
}

// skipString moves past a string whose escapes are all valid.
func (d *fastDecoder) skipString() bool {
	end, escaped := d.strEnd()
	if end < 0 {
		return false
	}
	if escaped {
		s := d.b[d.i+1 : end-1]
		for i := 0; i < len(s); i++ {
			if s[i] != '\\' {
				continue
			}
			i++ // strEnd saw to it that something follows
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s) {
					return false
				}
				for _, h := range s[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	d.i = end
	return true
}

// skipNumber moves past a number in JSON's grammar.
func (d *fastDecoder) skipNumber() bool {
	b, i := d.b, d.i
	digits := func() int {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if n := digits(); n == 0 || n > 1 && b[i-n] == '0' {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	d.i = i
	return true
}

// int64 reads an integer in JSON's grammar: no fraction, no exponent.
func (d *fastDecoder) int64(v *int64) bool {
	b, i := d.b, d.i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	digits := b[start:i]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' || len(digits) > 18 {
		return false // none, a leading zero, or maybe too large: encoding/json decides
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return false
	}
	var n int64
	for _, c := range digits {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	*v, d.i = n, i
	return true
}

func (d *fastDecoder) int(v *int) bool {
	var n int64
	if !d.int64(&n) || int64(int(n)) != n {
		return false
	}
	*v = int(n)
	return true
}

func (d *fastDecoder) bool(v *bool) bool {
	rest := d.b[d.i:]
	switch {
	case bytes.HasPrefix(rest, []byte("true")):
		*v, d.i = true, d.i+4
	case bytes.HasPrefix(rest, []byte("false")):
		*v, d.i = false, d.i+5
	default:
		return false
	}
	return true
}

// time hands the string token to time.Time's UnmarshalJSON, as encoding/json does.
func (d *fastDecoder) time(t *time.Time) bool {
	end, _ := d.strEnd()
	if end < 0 || t.UnmarshalJSON(d.b[d.i:end]) != nil {
		return false
	}
	d.i = end
	return true
}
