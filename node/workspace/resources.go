package workspace

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// resourcesPerPage is how many resources a page of the list shows.
const resourcesPerPage = 20

// uploadTimeout bounds a form or file that carries attachments, like the
// node's own transfer timeout for its attachments API: a large file over a
// centre's uplink takes far longer than an ordinary request may.
const uploadTimeout = 30 * time.Minute

// allowTransfer gives a request that carries files the time to send them.
func (ws *Workspace) allowTransfer(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	at := time.Now().Add(uploadTimeout)
	if err := errors.Join(rc.SetReadDeadline(at), rc.SetWriteDeadline(at)); err != nil {
		ws.log.Warn("cannot give an upload more time", "err", err)
	}
}

//go:embed static/resources-upload.js
var uploadScript []byte

// uploadScriptPath names the script by its content, so browsers may keep
// it forever and a new script gets a new address.
var uploadScriptPath = func() string {
	sum := sha256.Sum256(uploadScript)
	return pathStatic + "resources-upload." + hex.EncodeToString(sum[:6]) + ".js"
}()

func (ws *Workspace) mountResources() {
	ws.maxUpload = ws.cfg.MaxUpload
	if ws.maxUpload <= 0 || ws.maxUpload > protocol.MaxBlobSize {
		ws.maxUpload = protocol.MaxBlobSize
	}
	ws.mux.HandleFunc("GET "+uploadScriptPath, serveUploadScript)
	ws.site.AddScript(uploadScriptPath)
	ws.handle("GET "+PathResources+"{$}", ws.listResources, rolesContent...)
	ws.handle("GET "+PathResources+"new", ws.newResource, rolesContent...)
	ws.handle("POST "+PathResources+"new", ws.submitResource, rolesContent...)
	ws.handle("POST "+PathResources+"upload", ws.uploadFile, rolesContent...)
	ws.handle("GET "+PathResources+"{id}", ws.editResource, rolesContent...)
	ws.handle("POST "+PathResources+"{id}", ws.submitResource, rolesContent...)
	ws.handle("GET "+PathResources+"{id}/preview", ws.previewResource, rolesContent...)
	ws.handle("GET "+PathResources+"{id}/delete", ws.confirmRemove(false), rolesContent...)
	ws.handle("POST "+PathResources+"{id}/delete", ws.removeResource(false), rolesContent...)
	ws.handle("GET "+PathResources+"{id}/erase", ws.confirmRemove(true), rolesContent...)
	ws.handle("POST "+PathResources+"{id}/erase", ws.removeResource(true), rolesContent...)
}

func serveUploadScript(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(uploadScript)
}

// resourceHref is where an own resource is edited.
func resourceHref(id string) string { return PathResources + pathID(id) }

// choice is one option of a select, a group of boxes or of radio buttons.
type choice struct {
	ID, Value, Label string
	Checked          bool
	// Lang is the option's own language, for a language named in it.
	Lang string
}

// vocabulary words the terms of a controlled vocabulary for the form.
func vocabulary(p *locale.Printer, prefix, idPrefix string, terms, picked []string) []choice {
	out := make([]choice, 0, len(terms))
	for _, t := range terms {
		out = append(out, choice{ID: idPrefix + t, Value: t, Label: p.T(prefix + t), Checked: slices.Contains(picked, t)})
	}
	return out
}

// languageChoices lists the offered languages with any other the resource
// already has, labelled in the interface's language and ordered by label.
func languageChoices(p *locale.Printer, idPrefix string, picked []string) []choice {
	terms := slices.Clone(resourceLanguages)
	for _, l := range picked {
		if l != "" && !slices.Contains(terms, l) && len(terms) < 64 {
			terms = append(terms, l)
		}
	}
	out := make([]choice, 0, len(terms))
	for _, t := range terms {
		out = append(out, choice{ID: idPrefix + t, Value: t, Label: languageLabel(p, t), Checked: slices.Contains(picked, t)})
	}
	slices.SortFunc(out, func(a, b choice) int { return strings.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)) })
	return out
}

// languageLabel is a language's name in the interface's language, from
// CLDR.
func languageLabel(p *locale.Printer, tag string) string { return p.LanguageName(tag) }

func labels(p *locale.Printer, prefix string, terms []string) string {
	out := make([]string, 0, len(terms))
	for _, t := range terms {
		id := prefix + t
		if s := p.T(id); s != id {
			out = append(out, s)
		} else {
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}

// stateWords says where an own resource is, in plain words.
func (ws *Workspace) stateWords(p *locale.Printer, e node.Entity) string {
	switch {
	case e.Erased:
		return p.T("resources.state.erased")
	case e.Deleted:
		return p.T("resources.state.deleted")
	case e.State == node.StateScheduled && e.PublishAt != nil:
		return p.T("resources.state.scheduled", "when", p.DateTime(e.PublishAt.In(ws.cfg.Location)))
	case e.State == node.StatePending:
		return p.T("resources.state.pending")
	}
	return p.T("resources.state.synced")
}

// ownResource returns the resource the path names when it is this SIC's;
// anything else is not found, so nobody learns of another SIC's drafts.
func (ws *Workspace) ownResource(w http.ResponseWriter, r *http.Request) (node.Entity, bool) {
	id := r.PathValue("id")
	if owner, err := protocol.SplitEntityID(id); err != nil || owner != ws.node.ID() {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	e, err := ws.node.Get(r.Context(), id)
	if errors.Is(err, protocol.ErrNotFound) {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	if err != nil {
		ws.fail(w, r, "read resource", err)
		return node.Entity{}, false
	}
	if e.Kind != protocol.KindResource {
		ws.site.NotFound(w, r)
		return node.Entity{}, false
	}
	return e, true
}

type resourceListPage struct {
	Query, State string
	States       []choice
	Rows         []resourceRow
	Total        int
	Page, Pages  int
	Prev, Next   string
	// Filtered is whether a search or a state narrows the list.
	Filtered bool
}

type resourceRow struct {
	Href, Title, Languages, State string
	Changed                       time.Time
	Gone                          bool
}

func (ws *Workspace) listResources(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	q := r.URL.Query()
	page := resourceListPage{Query: strings.TrimSpace(q.Get("q")), State: q.Get("state"), Page: 1}
	if len(page.Query) > 200 {
		page.Query = page.Query[:200]
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 && n < 100000 {
		page.Page = n
	}
	states := []node.State{node.StateScheduled, node.StatePending, node.StateSynced, node.StateDeleted}
	if !slices.Contains(states, node.State(page.State)) {
		page.State = ""
	}
	page.States = append(page.States, choice{Value: "", Label: p.T("resources.list.state.all"), Checked: page.State == ""})
	for _, s := range states {
		page.States = append(page.States, choice{Value: string(s), Label: p.T("resources.list.state." + string(s)),
			Checked: page.State == string(s)})
	}
	page.Filtered = page.Query != "" || page.State != ""
	list, total, err := ws.node.SearchOwn(r.Context(), node.OwnFilter{Kind: protocol.KindResource, Text: page.Query,
		State: node.State(page.State), Limit: resourcesPerPage, Offset: (page.Page - 1) * resourcesPerPage})
	if err != nil {
		ws.fail(w, r, "search resources", err)
		return
	}
	page.Total = total
	page.Pages = max(1, (total+resourcesPerPage-1)/resourcesPerPage)
	link := func(n int) string {
		v := url.Values{}
		if page.Query != "" {
			v.Set("q", page.Query)
		}
		if page.State != "" {
			v.Set("state", page.State)
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return PathResources
		}
		return PathResources + "?" + v.Encode()
	}
	if page.Page > 1 {
		page.Prev = link(page.Page - 1)
	}
	if page.Page < page.Pages {
		page.Next = link(page.Page + 1)
	}
	for _, e := range list {
		var b protocol.Resource
		_ = json.Unmarshal(e.Body, &b)
		row := resourceRow{Href: resourceHref(e.ID), Title: b.Title, State: ws.stateWords(p, e), Changed: e.UpdatedAt,
			Gone: e.Deleted}
		if row.Title == "" {
			row.Title = e.ID
		}
		langs := make([]string, 0, len(b.Languages))
		for _, l := range b.Languages {
			langs = append(langs, languageLabel(p, l))
		}
		row.Languages = strings.Join(langs, ", ")
		page.Rows = append(page.Rows, row)
	}
	ws.render(w, r, http.StatusOK, "resources", sectionResources, page)
}

type resourceFormPage struct {
	// ID is empty for a new resource.
	ID, Action, UploadURL string
	In                    resourceInput
	Problems              problems
	Languages, TextLangs  []choice
	Audiences, Topics     []choice
	Types, Minisites      []choice
	Licences              []choice
	Visibilities          []choice
	Attachments           []attachmentView
	MaxUpload             string
	MaxBytes              int64
	// Chunk is the size of the pieces a large file goes in, 0 when files
	// go whole.
	Chunk          int64
	State          string
	Saved, Deleted bool
	Erased         bool
	Zone           string
}

type attachmentView struct {
	Value, SHA, Name, Type, Size, Href string
	Remove                             bool
}

func (ws *Workspace) formPage(r *http.Request, id string, in resourceInput, ps problems) resourceFormPage {
	p := web.Printer(r)
	action := PathResources + "new"
	if id != "" {
		action = resourceHref(id)
	}
	tok := url.QueryEscape(ws.site.FormToken(r))
	pg := resourceFormPage{ID: id, Action: action + "?" + web.FormField + "=" + tok,
		UploadURL: PathResources + "upload?" + web.FormField + "=" + tok, In: in, Problems: ps.sorted(),
		MaxUpload: humanBytes(ws.maxUpload), MaxBytes: ws.maxUpload, Zone: ws.zoneName()}
	if ws.cfg.UploadDir != "" {
		pg.Chunk = resumeChunk
	}
	pg.Languages = languageChoices(p, "f-languages-", in.Languages)
	pg.TextLangs = languageChoices(p, "", []string{in.Language})
	pg.Audiences = vocabulary(p, "resources.audience.", "f-audiences-", protocol.Audiences, in.Audiences)
	pg.Topics = vocabulary(p, "resources.topic.", "f-topics-", protocol.Topics, in.Topics)
	pg.Types = vocabulary(p, "resources.type.", "", protocol.ResourceTypes, []string{in.Type})
	pg.Minisites = vocabulary(p, "resources.minisite.", "f-minisites-", protocol.Minisites, in.Minisites)
	pg.Visibilities = vocabulary(p, "resources.visibility.", "f-visibility-",
		[]string{string(protocol.VisibilityPublic), string(protocol.VisibilityCommunity), string(protocol.VisibilityYouth)},
		[]string{in.Visibility})
	pg.Licences = append(pg.Licences, choice{Value: "", Label: p.T("resources.licence.none"), Checked: in.Licence == ""})
	for _, l := range licences {
		pg.Licences = append(pg.Licences, choice{Value: l, Label: l, Checked: in.Licence == l})
	}
	pg.Licences = append(pg.Licences, choice{Value: licenceOther, Label: p.T("resources.licence.other"),
		Checked: in.Licence == licenceOther})
	for _, b := range in.Attachments {
		pg.Attachments = append(pg.Attachments, attachmentView{Value: refValue(b), SHA: b.SHA256, Name: b.Name,
			Type: b.MediaType, Size: humanBytes(b.Size), Href: node.PathAdminBlobs + "/" + b.SHA256,
			Remove: slices.Contains(in.Remove, b.SHA256)})
	}
	return pg
}

func (ws *Workspace) newResource(w http.ResponseWriter, r *http.Request) {
	in := resourceInput{Visibility: string(protocol.VisibilityPublic)}
	// The language of the interface is a good guess for the text's.
	if l := web.Printer(r).Lang(); slices.Contains(resourceLanguages, l) {
		in.Language, in.Languages = l, []string{l}
	}
	ws.render(w, r, http.StatusOK, "resources_form", sectionResources, ws.formPage(r, "", in, nil))
}

func (ws *Workspace) editResource(w http.ResponseWriter, r *http.Request) {
	e, ok := ws.ownResource(w, r)
	if !ok {
		return
	}
	pg := ws.formPage(r, e.ID, inputOf(e, ws.cfg.Location), nil)
	pg.State, pg.Deleted, pg.Erased = ws.stateWords(web.Printer(r), e), e.Deleted, e.Erased
	pg.Saved = r.URL.Query().Get("saved") == "1"
	ws.render(w, r, http.StatusOK, "resources_form", sectionResources, pg)
}

// submitResource takes the resource form: to save it, to preview it
// unsaved, or to come back to it from a preview.
func (ws *Workspace) submitResource(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	var cur *node.Entity
	if r.PathValue("id") != "" {
		e, ok := ws.ownResource(w, r)
		if !ok {
			return
		}
		if e.Deleted {
			pg := ws.formPage(r, e.ID, resourceInput{}, nil)
			pg.State, pg.Deleted, pg.Erased = ws.stateWords(p, e), true, e.Erased
			ws.render(w, r, http.StatusConflict, "resources_form", sectionResources, pg)
			return
		}
		cur = &e
	}
	ws.allowTransfer(w)
	r.Body = http.MaxBytesReader(w, r.Body, int64(protocol.MaxBlobsPerItem)*(ws.maxUpload+overflowDrain)+maxFormText)
	vals, ups, err := ws.readResourceForm(r)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		ws.log.Info("resource form refused", "err", err)
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	in := inputFrom(vals)
	var current []protocol.BlobRef
	id := ""
	if cur != nil {
		current, id = cur.Blobs, cur.ID
	}
	in.Attachments = ws.keptAttachments(r, vals, current)
	var ps problems
	for _, u := range ups {
		if u.err != "" {
			ps.add("files", u.err)
			continue
		}
		if !slices.ContainsFunc(in.Attachments, func(b protocol.BlobRef) bool { return b.SHA256 == u.ref.SHA256 }) {
			in.Attachments = append(in.Attachments, u.ref)
		}
	}
	d := in.draft(p, ws.cfg.Location, &ps)
	d.Blobs = slices.DeleteFunc(slices.Clone(d.Blobs), func(b protocol.BlobRef) bool { return slices.Contains(in.Remove, b.SHA256) })
	ws.check(p, d, &ps)
	switch vals.Get("action") {
	case "edit":
		ws.render(w, r, http.StatusOK, "resources_form", sectionResources, ws.formPage(r, id, in, nil))
		return
	case "preview":
		if len(ps) == 0 {
			pv := ws.preview(p, id, d, time.Now())
			pv.Unsaved, pv.Hidden = true, in.values()
			for _, sha := range in.Remove {
				pv.Hidden = append(pv.Hidden, formValue{Name: "remove", Value: sha})
			}
			pv.Action = ws.formPage(r, id, in, nil).Action
			ws.render(w, r, http.StatusOK, "resources_preview", sectionResources, pv)
			return
		}
	}
	if len(ps) > 0 {
		ws.render(w, r, http.StatusUnprocessableEntity, "resources_form", sectionResources, ws.formPage(r, id, in, ps))
		return
	}
	var e node.Entity
	if cur == nil {
		e, err = ws.node.Create(r.Context(), d)
	} else {
		e, err = ws.node.Update(r.Context(), cur.ID, d)
	}
	if err != nil {
		var ve *protocol.ValidationError
		var pe *protocol.Error
		if !errors.As(err, &ve) && !errors.As(err, &pe) {
			ws.fail(w, r, "save resource", err)
			return
		}
		ws.addProblems(p, err, &ps)
		ws.render(w, r, http.StatusUnprocessableEntity, "resources_form", sectionResources, ws.formPage(r, id, in, ps))
		return
	}
	m, _ := web.Member(r)
	ws.log.Info("resource saved", "id", e.ID, "version", e.Version, "member", m.ID)
	http.Redirect(w, r, resourceHref(e.ID)+"?saved=1", http.StatusSeeOther)
}

// uploadFile takes one file the page's script sends ahead of the form, so
// that its progress can be shown, and answers with the reference the
// form then carries.
func (ws *Workspace) uploadFile(w http.ResponseWriter, r *http.Request) {
	ws.allowTransfer(w)
	answer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	if q := r.URL.Query(); q.Has("start") || q.Has("upload") {
		if ws.cfg.UploadDir == "" {
			answer(http.StatusNotFound, map[string]string{"error": web.Printer(r).T("resources.error.upload")})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, resumeChunkMax+maxFormText)
		ws.resumable(w, r, answer)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, ws.maxUpload+overflowDrain+maxFormText)
	_, ups, err := ws.readResourceForm(r)
	p := web.Printer(r)
	switch {
	case err != nil:
		answer(http.StatusBadRequest, map[string]string{"error": p.T("resources.error.upload")})
	case len(ups) != 1:
		answer(http.StatusBadRequest, map[string]string{"error": p.T("resources.error.upload")})
	case ups[0].err != "":
		answer(http.StatusUnprocessableEntity, map[string]string{"error": ups[0].err})
	default:
		answer(http.StatusCreated, uploadAnswer(ups[0]))
	}
}

// uploadAnswer tells the script what the form is to carry for a file.
func uploadAnswer(u upload) map[string]string {
	b := u.ref
	return map[string]string{"value": refValue(b), "name": b.Name, "size": humanBytes(b.Size), "type": b.MediaType,
		"sha256": b.SHA256}
}

// resourcePreview is a resource as the portal will show it, in the same
// order and with the same facts.
type resourcePreview struct {
	ID, Title, Lang, LangName, URL string
	Paragraphs                     []string
	TypeLabel, Ages                string
	Audiences, Topics, Licence     string
	Publisher                      string
	MaterialLangs                  []choice
	Attachments                    []attachmentView
	Visibility, Minisites, When    string
	Updated                        time.Time
	// Unsaved previews the form as sent; Hidden carries it on to saving
	// or back to editing.
	Unsaved   bool
	Hidden    []formValue
	Action    string
	EditHref  string
	Published bool
}

func (ws *Workspace) preview(p *locale.Printer, id string, d node.Draft, updated time.Time) resourcePreview {
	var b protocol.Resource
	_ = json.Unmarshal(d.Body, &b)
	pv := resourcePreview{ID: id, Title: b.Title, Lang: b.Language, LangName: languageLabel(p, b.Language), URL: b.URL,
		Paragraphs: paragraphs(b.Description), TypeLabel: labels(p, "resources.type.", []string{b.Type}),
		Ages: ages(b.AgeMin, b.AgeMax), Audiences: labels(p, "resources.audience.", b.Audiences),
		Topics: labels(p, "resources.topic.", b.Topics), Licence: b.Licence, Publisher: ws.node.Identity().Name,
		Visibility: p.T("resources.visibility." + string(d.Visibility)), Updated: updated.In(ws.cfg.Location),
		Minisites: labels(p, "resources.minisite.", b.Minisites)}
	if pv.Publisher == "" {
		pv.Publisher = ws.node.ID()
	}
	if id != "" {
		pv.EditHref = resourceHref(id)
	}
	if !slices.Equal(b.Languages, []string{b.Language}) {
		for _, l := range b.Languages {
			pv.MaterialLangs = append(pv.MaterialLangs, choice{Value: l, Label: languageLabel(p, l)})
		}
	}
	for _, f := range d.Blobs {
		pv.Attachments = append(pv.Attachments, attachmentView{Name: f.Name, Type: f.MediaType, Size: humanBytes(f.Size),
			Href: node.PathAdminBlobs + "/" + f.SHA256})
	}
	if d.PublishAt != nil && d.PublishAt.After(time.Now()) {
		pv.When = p.T("resources.preview.when.later", "when", p.DateTime(d.PublishAt.In(ws.cfg.Location)))
	} else {
		pv.When = p.T("resources.preview.when.now")
	}
	return pv
}

func (ws *Workspace) previewResource(w http.ResponseWriter, r *http.Request) {
	e, ok := ws.ownResource(w, r)
	if !ok {
		return
	}
	if e.Deleted {
		http.Redirect(w, r, resourceHref(e.ID), http.StatusSeeOther)
		return
	}
	p := web.Printer(r)
	pv := ws.preview(p, e.ID, node.Draft{Kind: e.Kind, Visibility: e.Visibility, PublishAt: e.PublishAt, Body: e.Body,
		Blobs: e.Blobs}, e.UpdatedAt)
	pv.Published = e.State == node.StateSynced
	if e.PublishAt != nil && e.State == node.StateScheduled {
		pv.When = p.T("resources.preview.when.later", "when", p.DateTime(e.PublishAt.In(ws.cfg.Location)))
	}
	ws.render(w, r, http.StatusOK, "resources_preview", sectionResources, pv)
}

// paragraphs splits a description the way the portal shows it: one
// paragraph per line that is not blank.
func paragraphs(s string) []string {
	var out []string
	for _, part := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func ages(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "–" + strconv.Itoa(hi)
}

type removePage struct {
	ID, Title, Href, Action string
	Erase, Deleted          bool
}

func (ws *Workspace) confirmRemove(erase bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e, ok := ws.ownResource(w, r)
		if !ok {
			return
		}
		if e.Erased || e.Deleted && !erase {
			http.Redirect(w, r, resourceHref(e.ID), http.StatusSeeOther)
			return
		}
		pg := removePage{ID: e.ID, Title: titleOf(e.Body), Href: resourceHref(e.ID), Erase: erase, Deleted: e.Deleted}
		pg.Action = pg.Href + "/delete"
		if erase {
			pg.Action = pg.Href + "/erase"
		}
		ws.render(w, r, http.StatusOK, "resources_delete", sectionResources, pg)
	}
}

func (ws *Workspace) removeResource(erase bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e, ok := ws.ownResource(w, r)
		if !ok {
			return
		}
		if _, err := ws.node.Delete(r.Context(), e.ID, erase); err != nil {
			ws.fail(w, r, "remove resource", err)
			return
		}
		m, _ := web.Member(r)
		ws.log.Info("resource removed", "id", e.ID, "erase", erase, "member", m.ID)
		http.Redirect(w, r, resourceHref(e.ID), http.StatusSeeOther)
	}
}
