package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// Limits of a resource form's body besides its files.
const (
	// maxFormFields bounds the parts of a multipart form.
	maxFormFields = 1000
	// maxFormText bounds all the form's text together; a description is
	// at most protocol.MaxTextField.
	maxFormText = 512 << 10
	// overflowDrain is how much of an attachment over the limit is read
	// and thrown away, so that a browser sending it still sees the answer;
	// past it, the connection is dropped.
	overflowDrain = 64 << 20
	// datetimeLocal is how a datetime-local input sends its value.
	datetimeLocal = "2006-01-02T15:04"
)

// resourceLanguages are the languages offered for a resource: the EU's
// official languages and those of the other countries of the network. A
// resource already in another language keeps it.
var resourceLanguages = []string{
	"bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "is", "it",
	"lb", "lt", "lv", "mt", "nl", "no", "pl", "pt", "ro", "sk", "sl", "sv",
}

// licences are the licences offered in a list; anything else is typed.
var licences = []string{
	"CC BY 4.0", "CC BY-SA 4.0", "CC BY-NC 4.0", "CC BY-NC-SA 4.0", "CC BY-ND 4.0", "CC BY-NC-ND 4.0", "CC0 1.0",
}

// licenceOther is the list's choice for a licence typed in.
const licenceOther = "other"

// errTooLarge stops an attachment at the workspace's limit.
var errTooLarge = errors.New("attachment over the size limit")

// resourceInput is what a person typed into the resource form, kept as
// typed so the form can come back with it.
type resourceInput struct {
	Title, Description, Language            string
	Languages, Audiences, Topics, Minisites []string
	AgeMin, AgeMax                          string
	Type, Licence, LicenceOther, URL        string
	Visibility, PublishAt                   string
	Attachments                             []protocol.BlobRef
	Remove                                  []string
}

// inputOf is the form's content for a stored resource.
func inputOf(e node.Entity, loc *time.Location) resourceInput {
	var b protocol.Resource
	_ = json.Unmarshal(e.Body, &b)
	in := resourceInput{Title: b.Title, Description: b.Description, Language: b.Language, Languages: b.Languages,
		Audiences: b.Audiences, Topics: b.Topics, Minisites: b.Minisites, Type: b.Type, URL: b.URL,
		AgeMin: strconv.Itoa(b.AgeMin), AgeMax: strconv.Itoa(b.AgeMax), Visibility: string(e.Visibility),
		Attachments: slices.Clone(e.Blobs)}
	switch {
	case b.Licence == "":
	case slices.Contains(licences, b.Licence):
		in.Licence = b.Licence
	default:
		in.Licence, in.LicenceOther = licenceOther, b.Licence
	}
	if e.PublishAt != nil {
		in.PublishAt = e.PublishAt.In(loc).Format(datetimeLocal)
	}
	return in
}

// inputFrom reads the form's fields; attachments are added by the caller.
func inputFrom(v url.Values) resourceInput {
	clean := func(s string) string { return strings.TrimSpace(s) }
	return resourceInput{Title: clean(v.Get("title")), Description: strings.TrimRight(v.Get("description"), " \t\r\n"),
		Language: v.Get("language"), Languages: v["languages"], Audiences: v["audiences"], Topics: v["topics"],
		Minisites: v["minisites"], AgeMin: clean(v.Get("age_min")), AgeMax: clean(v.Get("age_max")),
		Type: v.Get("type"), Licence: v.Get("licence"), LicenceOther: clean(v.Get("licence_other")),
		URL: clean(v.Get("url")), Visibility: v.Get("visibility"), PublishAt: clean(v.Get("publish_at")),
		Remove: v["remove"]}
}

// values is the input as form fields, to carry it through a preview.
func (in resourceInput) values() []formValue {
	var out []formValue
	add := func(name string, vals ...string) {
		for _, v := range vals {
			out = append(out, formValue{Name: name, Value: v})
		}
	}
	add("title", in.Title)
	add("description", in.Description)
	add("language", in.Language)
	add("languages", in.Languages...)
	add("age_min", in.AgeMin)
	add("age_max", in.AgeMax)
	add("audiences", in.Audiences...)
	add("topics", in.Topics...)
	add("type", in.Type)
	add("licence", in.Licence)
	add("licence_other", in.LicenceOther)
	add("url", in.URL)
	add("minisites", in.Minisites...)
	add("visibility", in.Visibility)
	add("publish_at", in.PublishAt)
	for _, b := range in.Attachments {
		add("attachment", refValue(b))
	}
	return out
}

type formValue struct{ Name, Value string }

// refValue is an attachment's reference as a hidden field's value.
func refValue(b protocol.BlobRef) string {
	raw, _ := json.Marshal(b)
	return string(raw)
}

// fieldProblem is one field's error: the form field it belongs to, the
// anchor the error summary links to, and the message.
type fieldProblem struct {
	Field, Anchor, Message string
}

// problems are a form's errors in the form's order.
type problems []fieldProblem

func (ps *problems) add(field, message string) {
	for _, p := range *ps {
		if p.Field == field {
			return
		}
	}
	*ps = append(*ps, fieldProblem{Field: field, Anchor: anchorOf(field), Message: message})
}

// For returns the message of field, or "".
func (ps problems) For(field string) string {
	for _, p := range ps {
		if p.Field == field {
			return p.Message
		}
	}
	return ""
}

// formOrder is the order of the form's fields, which the error summary
// follows.
var formOrder = []string{"title", "description", "language", "languages", "age_min", "age_max", "audiences",
	"topics", "type", "licence", "url", "minisites", "visibility", "publish_at", "files", "general"}

func (ps problems) sorted() problems {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b fieldProblem) int {
		return slices.Index(formOrder, a.Field) - slices.Index(formOrder, b.Field)
	})
	return out
}

// anchorOf is the id of the control a field's error links to: the first
// box of a group.
func anchorOf(field string) string {
	switch field {
	case "languages":
		return "f-languages-" + resourceLanguages[0]
	case "audiences":
		return "f-audiences-" + protocol.Audiences[0]
	case "topics":
		return "f-topics-" + protocol.Topics[0]
	case "minisites":
		return "f-minisites-" + protocol.Minisites[0]
	case "visibility":
		return "f-visibility-public"
	case "general":
		return "f-title"
	}
	return "f-" + strings.ReplaceAll(field, "_", "-")
}

// protocolFields maps the protocol's field names to the form's.
func formField(protocolField string) string {
	f := strings.TrimPrefix(protocolField, "body.")
	if i := strings.IndexAny(f, "[."); i >= 0 {
		f = f[:i]
	}
	switch f {
	case "title", "description", "language", "languages", "age_min", "age_max", "audiences", "topics", "type",
		"licence", "url", "minisites", "visibility", "publish_at":
		return f
	case "blobs":
		return "files"
	}
	return "general"
}

// draft turns the input into a node draft; what cannot be read goes into
// ps with the person's words for it.
func (in resourceInput) draft(p *locale.Printer, loc *time.Location, ps *problems) node.Draft {
	age := func(field, s string) int {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 99 {
			ps.add(field, p.T("resources.error."+field))
			return 0
		}
		return n
	}
	b := protocol.Resource{Title: in.Title, Description: in.Description, Language: in.Language,
		Languages: in.Languages, Audiences: in.Audiences, Topics: in.Topics, Minisites: in.Minisites,
		AgeMin: age("age_min", in.AgeMin), AgeMax: age("age_max", in.AgeMax), Type: in.Type, URL: in.URL}
	switch in.Licence {
	case licenceOther:
		if in.LicenceOther == "" {
			ps.add("licence", p.T("resources.error.licence_other"))
		}
		b.Licence = in.LicenceOther
	case "":
	default:
		if !slices.Contains(licences, in.Licence) {
			ps.add("licence", p.T("resources.error.licence"))
		}
		b.Licence = in.Licence
	}
	if b.Languages == nil {
		b.Languages = []string{}
	}
	if b.Audiences == nil {
		b.Audiences = []string{}
	}
	if b.Topics == nil {
		b.Topics = []string{}
	}
	body, _ := json.Marshal(b)
	d := node.Draft{Kind: protocol.KindResource, Visibility: protocol.Visibility(in.Visibility), Body: body,
		Blobs: in.Attachments}
	if in.PublishAt != "" {
		t, err := parseLocal(in.PublishAt, loc)
		if err != nil {
			ps.add("publish_at", p.T("resources.error.publish_at"))
		} else {
			d.PublishAt = &t
		}
	}
	if len(d.Blobs) > protocol.MaxBlobsPerItem {
		ps.add("files", p.N("resources.error.too_many", protocol.MaxBlobsPerItem))
	}
	return d
}

// parseLocal reads a datetime-local value, with or without seconds, in loc.
func parseLocal(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{datetimeLocal, datetimeLocal + ":05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time", s)
}

// check validates d exactly as the node will on saving, without saving:
// the protocol's parser on a change with a made-up envelope.
func (ws *Workspace) check(p *locale.Printer, d node.Draft, ps *problems) {
	self := ws.node.ID()
	id, err := protocol.NewEntityID(self, time.Now())
	if err != nil {
		ps.add("general", p.T("resources.error.general"))
		return
	}
	c := protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: self, Version: 1, Seq: 1,
		UpdatedAt: time.Now().UTC(), Visibility: d.Visibility, PublishAt: d.PublishAt, Body: d.Body, Blobs: d.Blobs,
		KeyID: self + "-check"}
	raw, err := json.Marshal(&c)
	if err != nil {
		ps.add("general", p.T("resources.error.general"))
		return
	}
	if _, err := protocol.ParseChange(raw); err != nil {
		ws.addProblems(p, err, ps)
	}
}

// addProblems words the node's refusal of a draft field by field.
func (ws *Workspace) addProblems(p *locale.Printer, err error, ps *problems) {
	var ve *protocol.ValidationError
	if errors.As(err, &ve) && len(ve.Fields) > 0 {
		for _, f := range ve.Fields {
			field := formField(f.Field)
			if field == "age_max" && strings.Contains(f.Message, "inverted") {
				ps.add(field, p.T("resources.error.age_order"))
				continue
			}
			ps.add(field, p.T("resources.error."+field))
		}
		return
	}
	ps.add("general", p.T("resources.error.general"))
}

// upload is one file of a form, attached as it arrived.
type upload struct {
	ref protocol.BlobRef
	err string
}

// readResourceForm reads a resource form. A multipart body is read part
// by part and each file streamed into the blob store as it arrives, so no
// file is ever held whole in memory; an ordinary form body was read by
// the site's form protection already.
func (ws *Workspace) readResourceForm(r *http.Request) (url.Values, []upload, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return nil, nil, err
		}
		return r.PostForm, nil, nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, err
	}
	vals := url.Values{}
	var ups []upload
	text := 0
	p := web.Printer(r)
	for i := 0; ; i++ {
		if i == maxFormFields {
			return nil, nil, errors.New("too many form fields")
		}
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		name := part.FormName()
		if part.FileName() == "" && name != "files" {
			b, err := io.ReadAll(io.LimitReader(part, int64(maxFormText-text)+1))
			if err != nil {
				return nil, nil, err
			}
			if text += len(b); text > maxFormText {
				return nil, nil, errors.New("form text over the limit")
			}
			vals.Add(name, string(b))
			continue
		}
		if name != "files" || part.FileName() == "" {
			io.Copy(io.Discard, io.LimitReader(part, overflowDrain))
			continue
		}
		ups = append(ups, ws.attachPart(r, p, part))
	}
	return vals, ups, nil
}

// attachPart streams one file part into the blob store.
func (ws *Workspace) attachPart(r *http.Request, p *locale.Printer, part *multipart.Part) upload {
	return ws.attach(r, p, part, part.FileName(), part.Header.Get("Content-Type"))
}

// attach streams r's file into the blob store, refusing it at the
// workspace's size limit.
func (ws *Workspace) attach(req *http.Request, p *locale.Printer, body io.Reader, name, mediaType string) upload {
	if mediaType == "application/octet-stream" {
		mediaType = "" // what browsers send when they do not know: the node guesses better
	}
	if mediaType != "" {
		if _, err := blobstore.CleanMediaType(mediaType); err != nil {
			mediaType = ""
		}
	}
	if err := protocol.ValidBlobName(name); err != nil {
		io.Copy(io.Discard, io.LimitReader(body, overflowDrain))
		return upload{err: p.T("resources.error.file_name", "name", name)}
	}
	lr := &capReader{r: body, left: ws.maxUpload}
	ref, err := ws.node.Attach(req.Context(), lr, name, mediaType)
	if err != nil {
		var pe *protocol.Error
		if errors.Is(err, errTooLarge) || errors.As(err, &pe) && pe.Code == protocol.CodeRecordTooLarge {
			io.Copy(io.Discard, io.LimitReader(body, overflowDrain))
			return upload{err: p.T("resources.error.file_size", "name", name, "limit", humanBytes(ws.maxUpload))}
		}
		ws.log.Error("attach", "name", name, "err", err)
		return upload{err: p.T("resources.error.file_failed", "name", name)}
	}
	return upload{ref: ref}
}

// capReader fails once more than left bytes have been read.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

// keptAttachments reads the attachments the form carries from an earlier
// step. Each must be one the resource has, or a file in this node's store
// of the size it claims: a form cannot make the node reference a file it
// does not hold.
func (ws *Workspace) keptAttachments(r *http.Request, vals url.Values, current []protocol.BlobRef) []protocol.BlobRef {
	var out []protocol.BlobRef
	for _, raw := range vals["attachment"] {
		if len(out) > protocol.MaxBlobsPerItem {
			break
		}
		var b protocol.BlobRef
		if json.Unmarshal([]byte(raw), &b) != nil || blobstore.ValidHash(b.SHA256) != nil ||
			protocol.ValidBlobName(b.Name) != nil {
			continue
		}
		if slices.ContainsFunc(out, func(o protocol.BlobRef) bool { return o.SHA256 == b.SHA256 }) {
			continue
		}
		if i := slices.IndexFunc(current, func(c protocol.BlobRef) bool { return c.SHA256 == b.SHA256 }); i >= 0 {
			out = append(out, current[i])
			continue
		}
		rc, info, err := ws.node.OpenBlob(r.Context(), b.SHA256)
		if err != nil {
			continue
		}
		rc.Close()
		if info.Size != b.Size {
			continue
		}
		if mt, err := blobstore.CleanMediaType(b.MediaType); err != nil || mt == "" {
			b.MediaType = info.MediaType
		}
		out = append(out, b)
	}
	return out
}

// humanBytes writes a size the way people read it: "2 GB", "512 kB".
func humanBytes(n int64) string {
	const unit = 1000
	switch {
	case n >= unit*unit*unit:
		return trimZero(float64(n)/(unit*unit*unit)) + " GB"
	case n >= unit*unit:
		return trimZero(float64(n)/(unit*unit)) + " MB"
	case n >= unit:
		return trimZero(float64(n)/unit) + " kB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

func trimZero(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}
