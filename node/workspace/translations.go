package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// The translations part: the worklist of what this SIC could translate and
// of its translations that are outdated, and the form to write or update a
// translation. The source version a translation names is never typed: the
// form carries the version it showed, and the server saves only when that
// is still the resource's current one, otherwise it shows what changed
// meanwhile and asks again.

const (
	pathTranslationNew = PathTranslations + "new"
	// translationMaxFile bounds a translated file sent through the form;
	// larger files go through the admin API.
	translationMaxFile = 100 << 20
	// translationMaxField bounds any other part of the form.
	translationMaxField = protocol.MaxTextField + 1024
	// translationMaxParts bounds the parts of one form.
	translationMaxParts = 32
	// translationUploadTime is how long sending the form may take: a
	// translated file on a slow line outlasts the node's deadline for an
	// ordinary request. Only a signed-in editor gets this long.
	translationUploadTime = 30 * time.Minute
	trOutdatedPerPage     = 20
	trWorklistPerPage     = 20
)

// trFallbackLanguages are offered for the worklist when the SIC has published no
// profile naming its languages: the EU's official languages, and those of
// the other countries of the network.
var trFallbackLanguages = []string{"bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu",
	"is", "it", "lt", "lv", "mt", "nl", "no", "pl", "pt", "ro", "sk", "sl", "sv"}

func (ws *Workspace) mountTranslations() {
	ws.handle("GET "+PathTranslations+"{$}", ws.showWorklist, rolesContent...)
	ws.handle("GET "+pathTranslationNew, ws.newTranslation, rolesContent...)
	ws.handle("POST "+pathTranslationNew, ws.saveNewTranslation, rolesContent...)
	ws.handle("GET "+PathTranslations+"{id}/edit", ws.editTranslation, rolesContent...)
	ws.handle("POST "+PathTranslations+"{id}/edit", ws.saveTranslation, rolesContent...)
}

// trLangName is a language's own name for itself ("suomi"), which
// reads right whatever the interface's language; the tag when x/text does
// not know it.
func trLangName(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return tag
	}
	if name := display.Self.Name(t); name != "" {
		return name
	}
	return tag
}

// trLangView is a language as the pages show it, marked with its tag.
type trLangView struct {
	Tag, Name string
	Selected  bool
}

func trLangViews(tags []string, selected string) []trLangView {
	out := make([]trLangView, 0, len(tags))
	for _, t := range tags {
		out = append(out, trLangView{Tag: t, Name: trLangName(t), Selected: t == selected})
	}
	return out
}

type trWorklistPage struct {
	To        string
	ToName    string
	Languages []trLangView
	// Own says the languages are the SIC's, from its profile.
	Own        bool
	Query      string
	QueryError string
	// SavedHref opens the translation just saved.
	SavedHref string
	Items     []trWorklistItem
	Next      string
	First     string
	Outdated  []trOutdatedItem
	// OutdatedNext and OutdatedPrev page the outdated list.
	OutdatedNext, OutdatedPrev string
	// Mine are the centre's translations into the chosen language.
	Mine               []trMineItem
	MineNext, MinePrev string
}

type trWorklistItem struct {
	ID, Title, TitleLang, Source string
	Languages                    []trLangView
	UpdatedAt                    time.Time
	Href                         string
}

type trMineItem struct {
	Title, TitleLang string
	Href             string
	From, Now        int64
	Outdated, Gone   bool
	UpdatedAt        time.Time
}

type trOutdatedItem struct {
	Title, TitleLang  string
	Language          trLangView
	SourceTitle       string
	SourceLang        string
	Source            string
	From, Now         int64
	SourceChangedAt   time.Time
	Href, ChangesHref string
}

// translationLanguages returns the languages offered and the one chosen: the
// to parameter when it is a language tag, else the SIC's first language,
// else the interface's.
func (ws *Workspace) translationLanguages(r *http.Request) (offered []string, chosen string, own bool, err error) {
	offered, err = ws.node.ProfileLanguages(r.Context())
	if err != nil {
		return nil, "", false, err
	}
	own = len(offered) > 0
	if !own {
		offered = trFallbackLanguages
	}
	if to := r.URL.Query().Get("to"); to != "" {
		if t, err := protocol.ParseLanguageTag(to); err == nil {
			chosen = t
		}
	}
	if chosen == "" {
		if own {
			chosen = offered[0]
		} else {
			chosen = web.Printer(r).Lang()
		}
	}
	if !slices.Contains(offered, chosen) {
		offered = append(slices.Clone(offered), chosen)
	}
	return offered, chosen, own, nil
}

func trWorklistHref(to, q, after string) string {
	v := url.Values{"to": {to}}
	if q != "" {
		v.Set("q", q)
	}
	if after != "" {
		v.Set("after", after)
	}
	return PathTranslations + "?" + v.Encode()
}

func (ws *Workspace) showWorklist(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := web.Printer(r)
	offered, to, own, err := ws.translationLanguages(r)
	if err != nil {
		ws.fail(w, r, "read the centre's languages", err)
		return
	}
	q := r.URL.Query()
	page := trWorklistPage{To: to, ToName: trLangName(to), Languages: trLangViews(offered, to), Own: own,
		Query: strings.TrimSpace(q.Get("q"))}
	if saved := q.Get("saved"); saved != "" {
		if _, err := protocol.SplitEntityID(saved); err == nil {
			page.SavedHref = PathTranslations + pathID(saved) + "/edit"
		}
	}
	if len(page.Query) > node.MaxWorklistQuery || !utf8.ValidString(page.Query) {
		page.QueryError = p.T("translations.search.too_long", "max", node.MaxWorklistQuery)
	}
	after := q.Get("after")
	if page.QueryError == "" {
		res, err := ws.node.Translatable(ctx, node.WorklistFilter{Language: to, Query: page.Query, After: after, Limit: trWorklistPerPage})
		var ve *protocol.ValidationError
		switch {
		case errors.As(err, &ve):
			// A stale or edited page address: start again from the first page.
			http.Redirect(w, r, trWorklistHref(to, page.Query, ""), http.StatusSeeOther)
			return
		case err != nil:
			ws.fail(w, r, "list translatable resources", err)
			return
		}
		owners := make([]string, 0, len(res.Resources))
		for _, s := range res.Resources {
			owners = append(owners, s.Owner)
		}
		names, err := ws.node.SICNames(ctx, owners)
		if err != nil {
			ws.fail(w, r, "read centres' names", err)
			return
		}
		for _, s := range res.Resources {
			page.Items = append(page.Items, trWorklistItem{ID: s.ID, Title: s.Body.Title, TitleLang: s.Body.Language,
				Source: trSICName(names, s.Owner), Languages: trLangViews(s.Body.Languages, ""), UpdatedAt: s.UpdatedAt,
				Href: pathTranslationNew + "?" + url.Values{"resource": {s.ID}, "to": {to}}.Encode()})
		}
		if res.Next != "" {
			page.Next = trWorklistHref(to, page.Query, res.Next)
		}
		if after != "" {
			page.First = trWorklistHref(to, page.Query, "")
		}
	}
	opage, _ := strconv.Atoi(q.Get("opage"))
	opage = max(opage, 1)
	// Every outdated translation of the centre's is listed, whatever the
	// language chosen: one into another language must not go unseen.
	outdated, more, err := ws.node.OutdatedTranslations(ctx, node.OutdatedFilter{Limit: trOutdatedPerPage,
		Offset: (opage - 1) * trOutdatedPerPage})
	if err != nil {
		ws.fail(w, r, "list outdated translations", err)
		return
	}
	owners := make([]string, 0, len(outdated))
	for _, o := range outdated {
		owners = append(owners, o.Source.Owner)
	}
	names, err := ws.node.SICNames(ctx, owners)
	if err != nil {
		ws.fail(w, r, "read centres' names", err)
		return
	}
	for _, o := range outdated {
		edit := PathTranslations + pathID(o.ID) + "/edit"
		page.Outdated = append(page.Outdated, trOutdatedItem{Title: o.Translation.Title, TitleLang: o.Translation.Language,
			Language:    trLangView{Tag: o.Translation.Language, Name: trLangName(o.Translation.Language)},
			SourceTitle: o.Source.Body.Title, SourceLang: o.Source.Body.Language, Source: trSICName(names, o.Source.Owner),
			From: o.Translation.SourceVersion, Now: o.Source.Version, SourceChangedAt: o.Source.UpdatedAt,
			Href: edit, ChangesHref: edit + "#changes"})
	}
	opageHref := func(n int) string {
		v := url.Values{"to": {to}, "opage": {strconv.Itoa(n)}}
		if page.Query != "" {
			v.Set("q", page.Query)
		}
		return PathTranslations + "?" + v.Encode() + "#outdated"
	}
	if more {
		page.OutdatedNext = opageHref(opage + 1)
	}
	if opage > 1 {
		page.OutdatedPrev = opageHref(opage - 1)
	}
	mpage, _ := strconv.Atoi(q.Get("mpage"))
	mpage = max(mpage, 1)
	mine, more, err := ws.node.OwnTranslations(ctx, node.OutdatedFilter{Language: to, Limit: trOutdatedPerPage,
		Offset: (mpage - 1) * trOutdatedPerPage})
	if err != nil {
		ws.fail(w, r, "list own translations", err)
		return
	}
	for _, o := range mine {
		page.Mine = append(page.Mine, trMineItem{Title: o.Translation.Title, TitleLang: o.Translation.Language,
			Href: PathTranslations + pathID(o.ID) + "/edit", From: o.Translation.SourceVersion, Now: o.Source.Version,
			Outdated: o.Outdated(), Gone: o.SourceDeleted, UpdatedAt: o.UpdatedAt})
	}
	mpageHref := func(n int) string {
		v := url.Values{"to": {to}, "mpage": {strconv.Itoa(n)}}
		if page.Query != "" {
			v.Set("q", page.Query)
		}
		return PathTranslations + "?" + v.Encode() + "#mine"
	}
	if more {
		page.MineNext = mpageHref(mpage + 1)
	}
	if mpage > 1 {
		page.MinePrev = mpageHref(mpage - 1)
	}
	ws.render(w, r, http.StatusOK, "translations", sectionTranslations, page)
}

// trSICName is a centre's name from its profile, else its code.
func trSICName(names map[string]string, owner string) string {
	if n := names[owner]; n != "" {
		return n
	}
	return strings.ToUpper(owner)
}

// trForm is what the form holds, as sent or as stored.
type trForm struct {
	Resource    string
	Version     int64
	Language    string
	Title       string
	Description string
	URL         string
	Method      string
	Review      string
	// Blobs are the attached files: kept from the stored version, or
	// uploaded with an earlier try of this form.
	Blobs []protocol.BlobRef
	// RemoveFile drops the attached files.
	RemoveFile bool
}

type trFieldErr struct{ Field, Message string }

type trPage struct {
	// ID is the translation's, empty for a new one.
	ID     string
	Action string
	Source node.SourceResource
	// SourceName is the source's centre.
	SourceName  string
	SourceLangs []trLangView
	Form        trForm
	LangName    string
	Methods     []string
	Reviews     []string
	Errors      []trFieldErr
	FieldErrors map[string]string
	// Changes is what changed in the source since the translation was made
	// (an edit) or since the form was shown (a save that came too late).
	Changes     *node.SourceChanges
	ChangesGone bool
	// Moved says the source changed while the form was open.
	Moved   bool
	MaxFile string
	// BlobBase is where the node serves an attachment by its hash, for
	// the translator to download the source's files.
	BlobBase string
}

func (ws *Workspace) newTranslation(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	src, ok := ws.translationSource(w, r, q.Get("resource"))
	if !ok {
		return
	}
	to, err := protocol.ParseLanguageTag(q.Get("to"))
	if err != nil {
		ws.site.Error(w, r, http.StatusBadRequest, "translations.error.language")
		return
	}
	f := trForm{Resource: src.ID, Version: src.Version, Language: to, Method: "human", Review: "unreviewed"}
	ws.renderTranslation(w, r, http.StatusOK, trPage{Source: src, Form: f})
}

// TextLang reports whether a changed field's text is in the source's
// language, and so marked with it.
func (p trPage) TextLang(field string) bool {
	return field == "title" || field == "description" || field == "licence"
}

// translationSource reads the resource a new translation is made from,
// answering the request itself when there is none to translate.
func (ws *Workspace) translationSource(w http.ResponseWriter, r *http.Request, id string) (node.SourceResource, bool) {
	if id == "" {
		ws.site.Error(w, r, http.StatusBadRequest, "translations.error.source")
		return node.SourceResource{}, false
	}
	src, err := ws.node.TranslationSource(r.Context(), id)
	switch {
	case errors.Is(err, protocol.ErrNotFound), errors.Is(err, node.ErrNotTranslatable):
		ws.site.Error(w, r, http.StatusNotFound, "translations.error.source")
		return node.SourceResource{}, false
	case err != nil:
		ws.fail(w, r, "read the source", err)
		return node.SourceResource{}, false
	}
	return src, true
}

func (ws *Workspace) editTranslation(w http.ResponseWriter, r *http.Request) {
	o, ok := ws.ownTranslation(w, r)
	if !ok {
		return
	}
	t := o.Translation
	f := trForm{Resource: t.Resource, Version: o.Source.Version, Language: t.Language, Title: t.Title,
		Description: t.Description, URL: t.URL, Method: t.Method, Review: t.Review}
	e, err := ws.node.Get(r.Context(), o.ID)
	if err != nil {
		ws.fail(w, r, "read translation", err)
		return
	}
	f.Blobs = e.Blobs
	page := trPage{ID: o.ID, Source: o.Source, Form: f}
	if o.Outdated() {
		if !ws.translationChanges(w, r, &page, t.SourceVersion) {
			return
		}
	}
	ws.renderTranslation(w, r, http.StatusOK, page)
}

// ownTranslation reads the translation the path names, answering the
// request itself when it is not one of this SIC's.
func (ws *Workspace) ownTranslation(w http.ResponseWriter, r *http.Request) (node.OwnTranslation, bool) {
	o, err := ws.node.GetTranslation(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, protocol.ErrNotFound):
		ws.site.NotFound(w, r)
		return o, false
	case err != nil:
		ws.fail(w, r, "read translation", err)
		return o, false
	}
	return o, true
}

// translationChanges puts into page what changed in its source from version
// from to the source's current one.
func (ws *Workspace) translationChanges(w http.ResponseWriter, r *http.Request, page *trPage, from int64) bool {
	ch, err := ws.node.SourceDiff(r.Context(), page.Source.ID, from, page.Source.Version)
	switch {
	case errors.Is(err, node.ErrVersionNotKept):
		page.ChangesGone = true
		page.Changes = &node.SourceChanges{Resource: page.Source.ID, From: from, To: page.Source.Version}
	case err != nil:
		ws.fail(w, r, "compare source versions", err)
		return false
	default:
		// Languages read better by name than by tag.
		for i, f := range ch.Fields {
			if f.Name == "languages" {
				for j, tag := range f.Added {
					ch.Fields[i].Added[j] = trLangName(tag) + " (" + tag + ")"
				}
				for j, tag := range f.Removed {
					ch.Fields[i].Removed[j] = trLangName(tag) + " (" + tag + ")"
				}
			}
		}
		page.Changes = &ch
	}
	return true
}

func (ws *Workspace) renderTranslation(w http.ResponseWriter, r *http.Request, status int, page trPage) {
	names, err := ws.node.SICNames(r.Context(), []string{page.Source.Owner})
	if err != nil {
		ws.fail(w, r, "read centres' names", err)
		return
	}
	page.SourceName = trSICName(names, page.Source.Owner)
	page.SourceLangs = trLangViews(page.Source.Body.Languages, "")
	page.LangName = trLangName(page.Form.Language)
	page.Methods, page.Reviews = protocol.TranslationMethods, protocol.ReviewStates
	page.BlobBase = node.PathAdminBlobs + "/"
	page.MaxFile = web.Printer(r).T("translations.file.max", "size", strconv.Itoa(translationMaxFile>>20))
	token := url.Values{web.FormField: {ws.site.FormToken(r)}}.Encode()
	if page.ID == "" {
		page.Action = pathTranslationNew + "?" + token
	} else {
		page.Action = PathTranslations + pathID(page.ID) + "/edit?" + token
	}
	page.FieldErrors = map[string]string{}
	for _, e := range page.Errors {
		page.FieldErrors[e.Field] = e.Message
	}
	ws.render(w, r, status, "translations_form", sectionTranslations, page)
}

func (ws *Workspace) saveNewTranslation(w http.ResponseWriter, r *http.Request) {
	ws.saveTranslationForm(w, r, "")
}

func (ws *Workspace) saveTranslation(w http.ResponseWriter, r *http.Request) {
	ws.saveTranslationForm(w, r, r.PathValue("id"))
}

// saveTranslationForm reads the form (a streamed multipart body, the file
// going straight to the blob store), checks it, and saves the translation
// when the source it was shown is still the current one.
func (ws *Workspace) saveTranslationForm(w http.ResponseWriter, r *http.Request, id string) {
	p := web.Printer(r)
	var own node.OwnTranslation
	if id != "" {
		var ok bool
		if own, ok = ws.ownTranslation(w, r); !ok {
			return
		}
	}
	f, errs, err := ws.readTranslationForm(w, r, p.T)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			ws.site.Error(w, r, http.StatusBadRequest, "translations.error.too_large")
			return
		}
		if errors.Is(err, errTrBadForm) {
			ws.site.Error(w, r, http.StatusBadRequest, "")
			return
		}
		ws.fail(w, r, "read translation form", err)
		return
	}
	if id != "" {
		// The translation's resource and language are its own, whatever
		// the form says.
		f.Resource, f.Language = own.Translation.Resource, own.Translation.Language
	}
	src, ok := ws.translationSource(w, r, f.Resource)
	if !ok {
		return
	}
	page := trPage{ID: id, Source: src, Form: f, Errors: errs}
	if src.Version != f.Version {
		// The source changed while the form was open: show what changed
		// and ask again, carrying the current version this time.
		page.Moved = true
		if !ws.translationChanges(w, r, &page, f.Version) {
			return
		}
		page.Form.Version = src.Version
		ws.renderTranslation(w, r, http.StatusConflict, page)
		return
	}
	if len(errs) > 0 {
		ws.keepTranslationChanges(w, r, &page, own)
		ws.renderTranslation(w, r, http.StatusUnprocessableEntity, page)
		return
	}
	body := protocol.Translation{Resource: src.ID, SourceVersion: src.Version, Language: f.Language,
		Title: f.Title, Description: f.Description, URL: f.URL, Method: f.Method, Review: f.Review}
	raw, err := trJSON(body)
	if err != nil {
		ws.fail(w, r, "encode translation", err)
		return
	}
	d := node.Draft{Kind: protocol.KindTranslation, Visibility: protocol.VisibilityPublic, Body: raw, Blobs: f.Blobs}
	var e node.Entity
	if id == "" {
		e, err = ws.node.Create(r.Context(), d)
	} else {
		e, err = ws.node.Update(r.Context(), id, d)
	}
	var ve *protocol.ValidationError
	if errors.As(err, &ve) {
		for _, fe := range ve.Fields {
			page.Errors = append(page.Errors, trFieldErr{Field: trFormField(fe.Field), Message: p.T("translations.error.invalid", "detail", fe.Message)})
		}
		ws.keepTranslationChanges(w, r, &page, own)
		ws.renderTranslation(w, r, http.StatusUnprocessableEntity, page)
		return
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		page.Errors = append(page.Errors, trFieldErr{Field: "title", Message: p.T("translations.error.invalid", "detail", pe.Message)})
		ws.renderTranslation(w, r, http.StatusUnprocessableEntity, page)
		return
	}
	if err != nil {
		ws.fail(w, r, "save translation", err)
		return
	}
	v := url.Values{"to": {f.Language}, "saved": {e.ID}}
	http.Redirect(w, r, PathTranslations+"?"+v.Encode(), http.StatusSeeOther)
}

// keepTranslationChanges shows again, on an edit sent back for its errors,
// what changed in the source since the translation was made.
func (ws *Workspace) keepTranslationChanges(w http.ResponseWriter, r *http.Request, page *trPage, own node.OwnTranslation) {
	if page.ID != "" && own.Outdated() && page.Changes == nil {
		ws.translationChanges(w, r, page, own.Translation.SourceVersion)
	}
}

// formField maps a validation error's field to the form's.
func trFormField(f string) string {
	switch f {
	case "body.title":
		return "title"
	case "body.description":
		return "description"
	case "body.url":
		return "url"
	case "body.method":
		return "method"
	case "body.review":
		return "review"
	}
	if strings.HasPrefix(f, "blobs") {
		return "file"
	}
	return "title"
}

var errTrBadForm = errors.New("not a translation form")

// readTranslationForm streams the multipart form: small fields are read
// whole within translationMaxField, the file goes to the blob store as it
// arrives. errs are the fields' problems, worded for the person.
func (ws *Workspace) readTranslationForm(w http.ResponseWriter, r *http.Request, t func(string, ...any) string) (trForm, []trFieldErr, error) {
	var f trForm
	var errs []trFieldErr
	bad := func(field, id string, args ...any) {
		errs = append(errs, trFieldErr{Field: field, Message: t(id, args...)})
	}
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(translationUploadTime)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return f, nil, err
	}
	if err := rc.SetWriteDeadline(time.Now().Add(translationUploadTime)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return f, nil, err
	}
	r.Body = http.MaxBytesReader(w, r.Body, translationMaxFile+translationMaxParts*translationMaxField)
	mr, err := r.MultipartReader()
	if err != nil {
		return f, nil, fmt.Errorf("%w: %w", errTrBadForm, err)
	}
	var kept struct{ sha, name, mediaType, size []string }
parts:
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return f, nil, fmt.Errorf("%w: %w", errTrBadForm, err)
		}
		if parts >= translationMaxParts {
			part.Close()
			return f, nil, fmt.Errorf("%w: too many parts", errTrBadForm)
		}
		name := part.FormName()
		if name == "file" {
			ref, ok, err := ws.attachTranslationFile(r, part)
			if errors.Is(err, errTrFileTooLarge) {
				// The file comes last in the form, after every field: the
				// form can come back filled in without reading the rest of
				// the upload, and the connection closes after the answer.
				bad("file", "translations.file.too_large", "size", strconv.Itoa(translationMaxFile>>20))
				w.Header().Set("Connection", "close")
				break parts
			}
			part.Close()
			switch {
			case err != nil:
				var ve *protocol.ValidationError
				if errors.As(err, &ve) {
					bad("file", "translations.file.bad_name")
					continue
				}
				return f, nil, err
			case ok:
				f.Blobs = append(f.Blobs[:0], ref)
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, translationMaxField+1))
		part.Close()
		if err != nil {
			return f, nil, err
		}
		if len(b) > translationMaxField {
			return f, nil, fmt.Errorf("%w: field %s too large", errTrBadForm, name)
		}
		v := strings.ReplaceAll(string(b), "\r\n", "\n")
		switch name {
		case "resource":
			f.Resource = v
		case "version":
			f.Version, _ = strconv.ParseInt(v, 10, 64)
		case "language":
			f.Language = v
		case "title":
			f.Title = strings.TrimSpace(v)
		case "description":
			f.Description = strings.TrimSpace(v)
		case "url":
			f.URL = strings.TrimSpace(v)
		case "method":
			f.Method = v
		case "review":
			f.Review = v
		case "remove_file":
			f.RemoveFile = v != ""
		case "kept_sha256":
			kept.sha = append(kept.sha, v)
		case "kept_name":
			kept.name = append(kept.name, v)
		case "kept_type":
			kept.mediaType = append(kept.mediaType, v)
		case "kept_size":
			kept.size = append(kept.size, v)
		}
	}
	if len(f.Blobs) == 0 && !f.RemoveFile {
		// Files attached before, by the stored version or an earlier try
		// of this form; each must be in this node's store.
		for i := range min(len(kept.sha), len(kept.name), len(kept.mediaType), len(kept.size), 4) {
			size, _ := strconv.ParseInt(kept.size[i], 10, 64)
			ref := protocol.BlobRef{SHA256: kept.sha[i], Name: kept.name[i], MediaType: kept.mediaType[i], Size: size}
			blob, info, err := ws.node.OpenBlob(r.Context(), ref.SHA256)
			if err != nil {
				bad("file", "translations.file.gone")
				continue
			}
			blob.Close()
			// The store, not the form, says what the bytes are.
			ref.Size = info.Size
			if info.MediaType != "" {
				ref.MediaType = info.MediaType
			}
			f.Blobs = append(f.Blobs, ref)
		}
	}
	if f.Language != "" {
		if tag, err := protocol.ParseLanguageTag(f.Language); err == nil {
			f.Language = tag
		} else {
			return f, nil, fmt.Errorf("%w: language %q", errTrBadForm, f.Language)
		}
	}
	switch {
	case f.Title == "":
		bad("title", "translations.title.required")
	case len(f.Title) > protocol.MaxShortField || !utf8.ValidString(f.Title):
		bad("title", "translations.title.too_long", "max", protocol.MaxShortField)
	}
	if len(f.Description) > protocol.MaxTextField || !utf8.ValidString(f.Description) {
		bad("description", "translations.description.too_long", "max", protocol.MaxTextField)
	}
	if f.URL != "" {
		if u, err := url.Parse(f.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(f.URL) > 2048 {
			bad("url", "translations.url.invalid")
		}
	}
	if !slices.Contains(protocol.TranslationMethods, f.Method) {
		bad("method", "translations.method.required")
	}
	if !slices.Contains(protocol.ReviewStates, f.Review) {
		bad("review", "translations.review.required")
	}
	return f, errs, nil
}

var errTrFileTooLarge = errors.New("translated file too large")

// attachTranslationFile stores the form's file part in the node's blob store. ok is
// false when no file was chosen.
func (ws *Workspace) attachTranslationFile(r *http.Request, part *multipart.Part) (protocol.BlobRef, bool, error) {
	name := part.FileName()
	if name == "" {
		// No file chosen: browsers still send the empty part.
		io.Copy(io.Discard, io.LimitReader(part, translationMaxField))
		return protocol.BlobRef{}, false, nil
	}
	lr := &trLimitedReader{r: part, n: translationMaxFile}
	ref, err := ws.node.Attach(r.Context(), lr, name, part.Header.Get("Content-Type"))
	if lr.over {
		return protocol.BlobRef{}, false, errTrFileTooLarge
	}
	if err != nil {
		return protocol.BlobRef{}, false, err
	}
	return ref, true, nil
}

// trLimitedReader reads at most n bytes and notes whether more were there,
// which io.LimitReader cannot tell from a file of exactly n bytes.
type trLimitedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *trLimitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if k, _ := l.r.Read(one[:]); k > 0 {
			l.over = true
			return 0, errTrFileTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}

// trJSON encodes a translation's body.
func trJSON(t protocol.Translation) (json.RawMessage, error) { return json.Marshal(t) }
