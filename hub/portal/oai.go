package portal

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OAI-PMH 2.0 (https://www.openarchives.org/OAI/openarchivesprotocol.html)
// over the resources, in oai_dc and in IEEE LOM (lom.go). Records are every
// resource that was public while this index followed it: a resource
// deleted, erased or made non-public stays a deleted record for good
// (deletedRecord=persistent). Datestamps are when the portal indexed the
// change, so an incremental harvest from the last responseDate misses
// nothing, however late a node pushed.
//
// A harvest pages by record sequence up to the boundary the index had when
// the harvest started. A record's sequence is the hub_seq of the change
// that last changed it, and the boundary the last hub_seq indexed, so
// positions mean the same on every holder of the same content: a harvester
// behind a load balancer may get each page from another mirror. The
// resumption token carries all of that (verb, prefix, set, from, until,
// position, boundary, list size) and no server state, so it survives
// restarts, and a record changed during a harvest appears in the next
// incremental harvest instead of twice. It is authenticated with a key
// kept in portal.db, or shared by the holders (Config.OAIKey), so a
// harvester cannot edit the set or the dates of a harvest in progress and
// get a list whose size and positions belong to another.

const (
	oaiPageRecords     = 100
	oaiPageIdentifiers = 250
	oaiDateTime        = "2006-01-02T15:04:05Z"
	oaiDate            = "2006-01-02"
	oaiDCPrefix        = "oai_dc"
	maxOAIRequestBytes = 16 << 10
)

// oaiFormat is a metadata format the repository disseminates. Every record
// is available in every format, so ListMetadataFormats answers the same
// list for any identifier.
type oaiFormat struct {
	prefix, schema, namespace string
	// write writes the metadata of a public resource; id is its OAI
	// identifier.
	write func(p *Portal, ctx context.Context, ow *oaiWriter, r *resourceRow, id string)
}

var oaiFormats = []oaiFormat{
	{oaiDCPrefix, "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", "http://www.openarchives.org/OAI/2.0/oai_dc/", (*Portal).writeDC},
	{lomPrefix, lomSchema, lomNamespace, (*Portal).writeLOM},
}

// oaiFormatFor returns the format of a metadataPrefix.
func oaiFormatFor(prefix string) (oaiFormat, bool) {
	for _, f := range oaiFormats {
		if f.prefix == prefix {
			return f, true
		}
	}
	return oaiFormat{}, false
}

// errNoFormat answers a metadataPrefix the repository does not have.
var errNoFormat = oaiErr{"cannotDisseminateFormat", "the metadata formats are oai_dc and lom"}

// oaiNamespace is the repository identifier in OAI identifiers
// (oai:<namespace>:<entity id>): the public host name when it has one.
func oaiNamespace(publicURL string) string {
	if u, err := url.Parse(publicURL); err == nil && strings.Contains(u.Hostname(), ".") {
		return u.Hostname()
	}
	return "bikfed.eu"
}

type oaiErr struct{ code, msg string }

// oaiArgs are the verb's arguments per the protocol: which are allowed and
// which required.
var oaiArgs = map[string]struct{ allowed, required []string }{
	"Identify":            {},
	"ListMetadataFormats": {allowed: []string{"identifier"}},
	"ListSets":            {allowed: []string{"resumptionToken"}},
	"GetRecord":           {allowed: []string{"identifier", "metadataPrefix"}, required: []string{"identifier", "metadataPrefix"}},
	"ListIdentifiers":     {allowed: []string{"from", "until", "set", "metadataPrefix", "resumptionToken"}, required: []string{"metadataPrefix"}},
	"ListRecords":         {allowed: []string{"from", "until", "set", "metadataPrefix", "resumptionToken"}, required: []string{"metadataPrefix"}},
}

// oaiToken is a resumption token's content, base64url JSON.
type oaiToken struct {
	Verb   string `json:"v"`
	Prefix string `json:"p"`
	Set    string `json:"s,omitempty"`
	From   int64  `json:"f,omitempty"` // unix ms, inclusive
	Until  int64  `json:"u,omitempty"` // unix ms, inclusive; 0: none
	After  int64  `json:"a"`           // last record seq sent
	Bound  int64  `json:"b"`           // record seq boundary of the harvest
	Cursor int    `json:"c"`           // records sent before this page
	Total  int    `json:"n"`           // completeListSize
	// Epoch was the index's random epoch, when positions were its own
	// counter: a token carrying one is from before positions were hub_seqs,
	// and its positions mean nothing now.
	Epoch int64 `json:"e,omitempty"`
}

// oaiMACSize is the bytes of HMAC-SHA256 a token carries: 128 bits.
const oaiMACSize = 16

// encode writes the token as base64url JSON, a dot and its MAC under key.
func (t oaiToken) encode(key []byte) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(oaiMAC(key, b))
}

func oaiMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)[:oaiMACSize]
}

func decodeOAIToken(s string, key []byte) (oaiToken, error) {
	var t oaiToken
	if len(s) > 1024 {
		return t, errors.New("too long")
	}
	payload, sum, ok := strings.Cut(s, ".")
	if !ok {
		return t, errors.New("no MAC")
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return t, err
	}
	mac, err := base64.RawURLEncoding.DecodeString(sum)
	if err != nil {
		return t, err
	}
	if !hmac.Equal(mac, oaiMAC(key, raw)) {
		return t, errors.New("MAC does not match")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, err
	}
	if _, known := oaiFormatFor(t.Prefix); t.Verb != "ListRecords" && t.Verb != "ListIdentifiers" || !known ||
		t.After < 0 || t.Bound < t.After || t.Cursor < 0 || t.Total < t.Cursor || (t.Set != "" && !validSetSpec(t.Set)) {
		return t, errors.New("inconsistent")
	}
	return t, nil
}

func validSetSpec(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, part := range strings.Split(s, ":") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0) {
				return false
			}
		}
	}
	return true
}

// parseOAITime reads a from/until argument; day says which granularity.
func parseOAITime(s string) (t time.Time, day bool, err error) {
	if t, err = time.Parse(oaiDateTime, s); err == nil {
		return t, false, nil
	}
	if t, err = time.Parse(oaiDate, s); err == nil && len(s) == len(oaiDate) {
		return t, true, nil
	}
	return time.Time{}, false, errors.New("not a UTC datestamp")
}

// oaiWriter builds one OAI-PMH response.
type oaiWriter struct {
	b    bytes.Buffer
	base string // the portal's base URL, for resource page links
}

func (w *oaiWriter) text(s string)               { xmlText(&w.b, s) }
func (w *oaiWriter) raw(s string)                { w.b.WriteString(s) }
func (w *oaiWriter) elem(name, text string)      { elem(&w.b, name, text) }
func (w *oaiWriter) attr(name, value string)     { w.raw(" " + name + `="`); w.text(value); w.raw(`"`) }
func (w *oaiWriter) open(name string)            { w.raw("<" + name + ">") }
func (w *oaiWriter) close(name string)           { w.raw("</" + name + ">") }
func stamp(ms int64) string                      { return time.UnixMilli(ms).UTC().Format(oaiDateTime) }
func (p *Portal) oaiIdentifier(id string) string { return "oai:" + p.oaiID + ":" + id }

func (p *Portal) handleOAI(w http.ResponseWriter, r *http.Request, q *req) {
	var args url.Values
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxOAIRequestBytes)
		if err := r.ParseForm(); err != nil {
			args = url.Values{}
		} else {
			args = r.PostForm
		}
	} else {
		args = r.URL.Query()
	}
	// The verb's answer is built first: whether the request element may echo
	// the arguments depends on the errors it finds.
	body := &oaiWriter{base: q.base}
	baseURL := q.base + "/oai"
	verb, errs := p.checkOAIArgs(args)
	if len(errs) == 0 {
		var err error
		errs, err = p.oaiVerb(r.Context(), body, verb, args, baseURL)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
	}
	ow := &oaiWriter{base: q.base}
	ow.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	ow.raw(`<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"` +
		` xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">`)
	ow.elem("responseDate", p.now().UTC().Format(oaiDateTime))
	// The request element echoes the arguments only when they were valid.
	ow.raw("<request")
	if !slices.ContainsFunc(errs, func(e oaiErr) bool { return e.code == "badVerb" || e.code == "badArgument" }) {
		ow.attr("verb", verb)
		keys := make([]string, 0, len(args))
		for k := range args {
			if k != "verb" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			ow.attr(k, args.Get(k))
		}
	}
	ow.raw(">")
	ow.text(baseURL)
	ow.raw("</request>")
	if len(errs) == 0 {
		ow.b.Write(body.b.Bytes())
	}
	for _, e := range errs {
		ow.raw(`<error code="` + e.code + `">`)
		ow.text(e.msg)
		ow.raw("</error>")
	}
	ow.raw("</OAI-PMH>\n")
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	p.write(w, r, &response{status: http.StatusOK, ctype: "text/xml; charset=utf-8", body: ow.b.Bytes()})
}

// checkOAIArgs validates the verb and its arguments.
func (p *Portal) checkOAIArgs(args url.Values) (string, []oaiErr) {
	verbs := args["verb"]
	if len(verbs) != 1 {
		return "", []oaiErr{{"badVerb", "exactly one verb is required"}}
	}
	verb := verbs[0]
	spec, ok := oaiArgs[verb]
	if !ok {
		return "", []oaiErr{{"badVerb", "not an OAI-PMH verb"}}
	}
	for k, vals := range args {
		if k == "verb" {
			continue
		}
		if !slices.Contains(spec.allowed, k) {
			return verb, []oaiErr{{"badArgument", "argument " + k + " is not allowed for " + verb}}
		}
		if len(vals) != 1 {
			return verb, []oaiErr{{"badArgument", "argument " + k + " is repeated"}}
		}
	}
	if tok := args.Get("resumptionToken"); args.Has("resumptionToken") {
		if len(args) != 2 {
			return verb, []oaiErr{{"badArgument", "resumptionToken is an exclusive argument"}}
		}
		_ = tok
		return verb, nil
	}
	for _, k := range spec.required {
		if !args.Has(k) {
			return verb, []oaiErr{{"badArgument", "missing required argument " + k}}
		}
	}
	return verb, nil
}

func (p *Portal) oaiVerb(ctx context.Context, ow *oaiWriter, verb string, args url.Values, baseURL string) ([]oaiErr, error) {
	switch verb {
	case "Identify":
		var earliest sql.NullInt64
		if err := p.db.Reader().QueryRowContext(ctx, `SELECT MIN(stamp) FROM oai`).Scan(&earliest); err != nil {
			return nil, err
		}
		first := earliest.Int64
		if !earliest.Valid {
			first = p.now().UnixMilli()
		}
		ow.open("Identify")
		ow.elem("repositoryName", p.cfg.RepositoryName)
		ow.elem("baseURL", baseURL)
		ow.elem("protocolVersion", "2.0")
		ow.elem("adminEmail", p.cfg.AdminEmail)
		ow.elem("earliestDatestamp", stamp(first))
		ow.elem("deletedRecord", "persistent")
		ow.elem("granularity", "YYYY-MM-DDThh:mm:ssZ")
		ow.elem("compression", "gzip")
		ow.close("Identify")
		return nil, nil
	case "ListMetadataFormats":
		if id := args.Get("identifier"); args.Has("identifier") {
			ok, err := p.oaiExists(ctx, id)
			if err != nil {
				return nil, err
			}
			if !ok {
				return []oaiErr{{"idDoesNotExist", "no such record"}}, nil
			}
		}
		ow.open("ListMetadataFormats")
		for _, f := range oaiFormats {
			ow.open("metadataFormat")
			ow.elem("metadataPrefix", f.prefix)
			ow.elem("schema", f.schema)
			ow.elem("metadataNamespace", f.namespace)
			ow.close("metadataFormat")
		}
		ow.close("ListMetadataFormats")
		return nil, nil
	case "ListSets":
		if args.Has("resumptionToken") {
			return []oaiErr{{"badResumptionToken", "this repository issues no resumption tokens for ListSets"}}, nil
		}
		sets, err := p.oaiSets(ctx)
		if err != nil {
			return nil, err
		}
		ow.open("ListSets")
		for _, s := range sets {
			ow.open("set")
			ow.elem("setSpec", s[0])
			ow.elem("setName", s[1])
			ow.close("set")
		}
		ow.close("ListSets")
		return nil, nil
	case "GetRecord":
		format, ok := oaiFormatFor(args.Get("metadataPrefix"))
		if !ok {
			return []oaiErr{errNoFormat}, nil
		}
		id, ok := strings.CutPrefix(args.Get("identifier"), "oai:"+p.oaiID+":")
		if !ok {
			return []oaiErr{{"idDoesNotExist", "no such record"}}, nil
		}
		recs, err := p.oaiRecords(ctx, `o.id = ?`, []any{id}, 1)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return []oaiErr{{"idDoesNotExist", "no such record"}}, nil
		}
		ow.open("GetRecord")
		p.writeRecord(ctx, ow, recs[0], format)
		ow.close("GetRecord")
		return nil, nil
	}
	return p.oaiList(ctx, ow, verb, args)
}

func (p *Portal) oaiExists(ctx context.Context, identifier string) (bool, error) {
	id, ok := strings.CutPrefix(identifier, "oai:"+p.oaiID+":")
	if !ok {
		return false, nil
	}
	var one int
	err := p.db.Reader().QueryRowContext(ctx, `SELECT 1 FROM oai WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// oaiSets lists the set hierarchy: sic, language and type, each with the
// values records have.
func (p *Portal) oaiSets(ctx context.Context) ([][2]string, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT DISTINCT sets FROM oai`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var sets string
		if err := rows.Scan(&sets); err != nil {
			return nil, err
		}
		for _, s := range strings.Fields(sets) {
			seen[s] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	profiles := p.profiles(ctx)
	out := [][2]string{{"sic", "Safer Internet Centres"}, {"language", "Languages"}, {"type", "Resource types"}}
	specs := make([]string, 0, len(seen))
	for s := range seen {
		specs = append(specs, s)
	}
	slices.Sort(specs)
	for _, s := range specs {
		kind, val, _ := strings.Cut(s, ":")
		name := val
		switch kind {
		case "sic":
			name = profiles.publisher(p.langs.en, val)
		case "language":
			name = languageName(val)
		case "type":
			name = humanize(val)
		}
		out = append(out, [2]string{s, name})
	}
	return out, nil
}

// oaiRecord is one row of a harvest.
type oaiRecord struct {
	id      string
	seq     int64
	stamp   int64
	deleted bool
	sets    []string
	row     *resourceRow
}

// oaiRecords reads records matching where (with args), in harvest order,
// with the resource rows of those still public.
func (p *Portal) oaiRecords(ctx context.Context, where string, args []any, limit int) ([]oaiRecord, error) {
	rows, err := p.db.Reader().QueryContext(ctx, `SELECT o.id, o.seq, o.stamp, o.deleted, o.sets, r.rid
		FROM oai o LEFT JOIN resources r ON r.id = o.id WHERE `+where+` ORDER BY o.seq LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("oai records: %w", err)
	}
	var out []oaiRecord
	var rids []uint32
	for rows.Next() {
		var rec oaiRecord
		var sets string
		var rid sql.NullInt64
		if err := rows.Scan(&rec.id, &rec.seq, &rec.stamp, &rec.deleted, &sets, &rid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("oai records: %w", err)
		}
		rec.sets = strings.Fields(sets)
		if rid.Valid && !rec.deleted {
			rids = append(rids, uint32(rid.Int64))
		}
		out = append(out, rec)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("oai records: %w", err)
	}
	live, err := p.rows(ctx, rids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*resourceRow, len(live))
	for _, r := range live {
		byID[r.ID] = r
	}
	for i := range out {
		if out[i].row = byID[out[i].id]; out[i].row == nil {
			out[i].deleted = true
		}
	}
	return out, nil
}

func (p *Portal) oaiList(ctx context.Context, ow *oaiWriter, verb string, args url.Values) ([]oaiErr, error) {
	var tok oaiToken
	if s := args.Get("resumptionToken"); args.Has("resumptionToken") {
		var err error
		if tok, err = decodeOAIToken(s, p.oaiKey); err != nil || tok.Verb != verb || tok.Epoch != 0 {
			return []oaiErr{{"badResumptionToken", "the resumption token is not valid"}}, nil
		}
	} else {
		prefix := args.Get("metadataPrefix")
		if _, ok := oaiFormatFor(prefix); !ok {
			return []oaiErr{errNoFormat}, nil
		}
		tok = oaiToken{Verb: verb, Prefix: prefix}
		var fromDay, untilDay bool
		if s := args.Get("from"); args.Has("from") {
			t, day, err := parseOAITime(s)
			if err != nil {
				return []oaiErr{{"badArgument", "from is not a UTC datestamp"}}, nil
			}
			tok.From, fromDay = t.UnixMilli(), day
		}
		if s := args.Get("until"); args.Has("until") {
			t, day, err := parseOAITime(s)
			if err != nil {
				return []oaiErr{{"badArgument", "until is not a UTC datestamp"}}, nil
			}
			untilDay = day
			if day {
				t = t.Add(24*time.Hour - time.Millisecond)
			} else {
				t = t.Add(time.Second - time.Millisecond)
			}
			tok.Until = t.UnixMilli()
		}
		if args.Has("from") && args.Has("until") {
			if fromDay != untilDay {
				return []oaiErr{{"badArgument", "from and until must have the same granularity"}}, nil
			}
			if tok.From > tok.Until {
				return []oaiErr{{"badArgument", "from is after until"}}, nil
			}
		}
		if s := args.Get("set"); args.Has("set") {
			if !validSetSpec(s) {
				return []oaiErr{{"badArgument", "set is not a setSpec"}}, nil
			}
			tok.Set = s
		}
		if err := p.db.Reader().QueryRowContext(ctx, `SELECT value FROM state WHERE key = 'indexed_seq'`).Scan(&tok.Bound); err != nil {
			return nil, err
		}
		where, wargs := tok.filter()
		if err := p.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM oai o WHERE `+where, wargs...).Scan(&tok.Total); err != nil {
			return nil, err
		}
		if tok.Total == 0 {
			return []oaiErr{{"noRecordsMatch", "no records match"}}, nil
		}
	}
	size := oaiPageIdentifiers
	if verb == "ListRecords" {
		size = oaiPageRecords
	}
	where, wargs := tok.filter()
	recs, err := p.oaiRecords(ctx, where, wargs, size+1)
	if err != nil {
		return nil, err
	}
	more := len(recs) > size
	if more {
		recs = recs[:size]
	}
	if len(recs) == 0 {
		if tok.Cursor == 0 {
			return []oaiErr{{"noRecordsMatch", "no records match"}}, nil
		}
	}
	format, _ := oaiFormatFor(tok.Prefix)
	ow.open(verb)
	for _, rec := range recs {
		if verb == "ListRecords" {
			p.writeRecord(ctx, ow, rec, format)
		} else {
			p.writeHeader(ow, rec)
		}
	}
	if tok.Cursor > 0 || more {
		next := tok
		next.Cursor = tok.Cursor + len(recs)
		if len(recs) > 0 {
			next.After = recs[len(recs)-1].seq
		}
		total := max(tok.Total, next.Cursor)
		ow.raw(`<resumptionToken completeListSize="` + itoa(int64(total)) + `" cursor="` + itoa(int64(tok.Cursor)) + `">`)
		if more {
			next.Total = total
			ow.text(next.encode(p.oaiKey))
		}
		ow.raw("</resumptionToken>")
	}
	ow.close(verb)
	return nil, nil
}

// filter is the SQL condition of a harvest position.
func (t oaiToken) filter() (string, []any) {
	where := `o.seq > ? AND o.seq <= ? AND o.stamp >= ?`
	args := []any{t.After, t.Bound, t.From}
	if t.Until > 0 {
		where += ` AND o.stamp <= ?`
		args = append(args, t.Until)
	}
	if t.Set != "" {
		where += ` AND (instr(o.sets, ?) > 0 OR instr(o.sets, ?) > 0)`
		args = append(args, " "+t.Set+" ", " "+t.Set+":")
	}
	return where, args
}

func (p *Portal) writeHeader(ow *oaiWriter, rec oaiRecord) {
	ow.raw("<header")
	if rec.deleted {
		ow.raw(` status="deleted"`)
	}
	ow.raw(">")
	ow.elem("identifier", p.oaiIdentifier(rec.id))
	ow.elem("datestamp", stamp(rec.stamp))
	for _, s := range rec.sets {
		ow.elem("setSpec", s)
	}
	ow.close("header")
}

// writeRecord writes a record: its header and, unless it is deleted, its
// metadata in format.
func (p *Portal) writeRecord(ctx context.Context, ow *oaiWriter, rec oaiRecord, format oaiFormat) {
	ow.open("record")
	p.writeHeader(ow, rec)
	if !rec.deleted {
		ow.open("metadata")
		format.write(p, ctx, ow, rec.row, p.oaiIdentifier(rec.id))
		ow.close("metadata")
	}
	ow.close("record")
}

// writeDC writes the oai_dc record of a public resource.
func (p *Portal) writeDC(ctx context.Context, ow *oaiWriter, r *resourceRow, _ string) {
	ow.raw(`<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"` +
		` xmlns:dc="http://purl.org/dc/elements/1.1/"` +
		` xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/oai_dc/ http://www.openarchives.org/OAI/2.0/oai_dc.xsd">`)
	dc := func(name, lang, text string) {
		if text == "" {
			return
		}
		ow.raw("<dc:" + name)
		if lang != "" {
			ow.attr("xml:lang", lang)
		}
		ow.raw(">")
		ow.text(text)
		ow.raw("</dc:" + name + ">")
	}
	dc("title", r.Language, r.Title)
	if ts, err := p.translations(ctx, r); err == nil {
		for _, t := range ts {
			dc("title", t.Language, t.Title)
		}
	}
	dc("description", r.Language, r.Description)
	for _, t := range r.Topics {
		dc("subject", "en", humanize(t))
	}
	dc("type", "en", humanize(r.Type))
	dc("publisher", "", p.profiles(ctx).publisher(p.langs.en, r.Owner))
	dc("date", "", r.Updated.Format(oaiDate))
	for _, l := range unionLangs(r.Language, r.Languages) {
		dc("language", "", l)
	}
	dc("identifier", "", ow.base+"/resources/"+r.ID)
	dc("identifier", "", r.URL)
	dc("rights", "", r.Licence)
	for _, a := range r.Audiences {
		dc("coverage", "en", "Audience: "+humanize(a)+", ages "+ages(r.AgeMin, r.AgeMax))
	}
	ow.raw("</oai_dc:dc>")
}
