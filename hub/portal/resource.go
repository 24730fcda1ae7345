package portal

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/protocol"
)

type resourceData struct {
	Shown         shown
	Original      string
	OriginalName  string
	OriginalLabel string
	OriginalHref  string
	Offer         *offer
	Versions      []version
	Self          string
	MaterialLangs []langView
	Owner         string
	Publisher     string
	TypeLabel     string
	Ages          string
	Audiences     string
	Topics        string
	Licence       string
	Updated       string
	UpdatedISO    string
	Attachments   []attachment
	// Video is the player of a video resource with a video file, nil
	// otherwise.
	Video *videoPlayer
}

type shown struct {
	// LangName is the language's name in itself, LangLabel in the
	// interface's language.
	Lang, LangName, LangLabel, Title, URL, By string
	Paragraphs                                []string
	Translation, Machine                      bool
	PostEdited, Reviewed, Outdated            bool
}

type offer struct{ Lang, Name, Label, Href string }

type version struct {
	Lang, Name, Href, Note string
	Current                bool
}

type attachment struct{ Href, Name, Type, Size string }

// translatedLangs are the languages of best but original, in order.
func translatedLangs(best map[string]translationRow, original string) []string {
	langs := make([]string, 0, len(best))
	for l := range best {
		if l != original {
			langs = append(langs, l)
		}
	}
	slices.Sort(langs)
	return langs
}

// bestTranslations keeps one translation per language: reviewed before
// unreviewed, human before post-edited before machine, current before
// outdated, then the newest.
func bestTranslations(ts []translationRow) map[string]translationRow {
	score := func(t translationRow) int {
		s := 0
		if t.Review == "reviewed" {
			s += 8
		}
		switch t.Method {
		case "human":
			s += 4
		case "post-edited":
			s += 2
		}
		if !t.Outdated {
			s++
		}
		return s
	}
	best := map[string]translationRow{}
	for _, t := range ts {
		b, ok := best[t.Language]
		if !ok || score(t) > score(b) || score(t) == score(b) && t.Updated.After(b.Updated) {
			best[t.Language] = t
		}
	}
	return best
}

func (p *Portal) handleResource(w http.ResponseWriter, r *http.Request, q *req, id string) {
	asked := r.URL.Query().Get("lang")
	if asked != "" {
		if canon, err := protocol.ParseLanguageTag(asked); err == nil {
			asked = canon
		} else {
			asked = ""
		}
	}
	ctx := r.Context()
	// The variant depends on the visitor's languages only through the
	// version offered, which needs the resource's languages: read them first
	// (one indexed lookup) so the cache key and ETag are exact.
	row, err := p.resource(ctx, id)
	if err != nil {
		p.serverError(w, r, err)
		return
	}
	if row == nil {
		p.notFound(w, r, q, http.StatusNotFound)
		return
	}
	available := unionLangs(row.Language, row.TransLangs)
	var offered string
	if asked == "" {
		if l, ok := negotiate(q.prefs, available); ok && l != row.Language {
			offered = l
		}
	}
	p.respond(w, r, q.key("resource")+"|"+id+"|"+asked+"|"+offered, func() (*response, error) {
		ts, err := p.translations(ctx, row)
		if err != nil {
			return nil, err
		}
		best := bestTranslations(ts)
		// Asked for by ?lang=, or else the interface's language when a
		// translation into it exists.
		chosen := row.Language
		if _, ok := best[asked]; ok {
			chosen = asked
		} else if _, ok := best[q.lang]; ok && asked == "" {
			chosen = q.lang
		}
		profiles := p.profiles(ctx)
		self := q.prefix + "/resources/" + row.ID
		d := resourceData{
			Original:      row.Language,
			OriginalName:  languageName(row.Language),
			OriginalLabel: langLabel(q.p, row.Language),
			OriginalHref:  self,
			Self:          self,
			Owner:         row.Owner,
			Publisher:     profiles.publisher(q.p, row.Owner),
			TypeLabel:     vocabLabel(q.p, "type", row.Type),
			Ages:          ages(row.AgeMin, row.AgeMax),
			Audiences:     joinLabels(q.p, "audience", row.Audiences),
			Topics:        joinLabels(q.p, "topic", row.Topics),
			Licence:       row.Licence,
			Updated:       q.p.Date(row.Updated),
			UpdatedISO:    row.Updated.Format(time.RFC3339),
		}
		if t, ok := best[chosen]; ok && chosen != row.Language {
			d.Shown = shown{Lang: t.Language, LangName: languageName(t.Language), LangLabel: langLabel(q.p, t.Language), Title: t.Title, URL: cmp.Or(t.URL, row.URL),
				Paragraphs: paragraphs(cmp.Or(t.Description, row.Description)), Translation: true,
				Machine: t.Method != "human", PostEdited: t.Method == "post-edited", Reviewed: t.Review == "reviewed",
				Outdated: t.Outdated, By: profiles.publisher(q.p, t.Owner)}
		} else {
			d.Shown = shown{Lang: row.Language, LangName: languageName(row.Language), Title: row.Title, URL: row.URL,
				Paragraphs: paragraphs(row.Description)}
		}
		if offered != "" && offered != chosen {
			d.Offer = &offer{Lang: offered, Name: languageName(offered), Label: langLabel(q.p, offered), Href: self + "?lang=" + url.QueryEscape(offered)}
		}
		v := p.newView(q, d.Shown.Title, "resources")
		v.Description = summary(d.Shown.firstParagraph(), 200)
		canonical := q.canonical(q.sp + "/resources/" + row.ID)
		if chosen != row.Language {
			canonical += "?lang=" + url.QueryEscape(chosen)
		}
		v.Canonical = canonical
		// A resource's alternates are its versions (?lang=), which the
		// interface's would repeat.
		v.Alternates = nil
		addVersion := func(lang, note string) {
			href := self
			if lang != row.Language {
				href += "?lang=" + url.QueryEscape(lang)
			}
			d.Versions = append(d.Versions, version{Lang: lang, Name: languageName(lang), Href: href, Note: note, Current: lang == chosen})
			v.Alternates = append(v.Alternates, altLink{lang, q.base + href})
		}
		addVersion(row.Language, q.p.T("portal.resource.note.original"))
		for _, l := range translatedLangs(best, row.Language) {
			t := best[l]
			var notes []string
			if t.Method != "human" {
				notes = append(notes, q.p.T("portal.resource.note.machine"))
			}
			if t.Outdated {
				notes = append(notes, q.p.T("portal.resource.note.outdated"))
			}
			addVersion(l, strings.Join(notes, ", "))
		}
		v.Alternates = append(v.Alternates, altLink{"x-default", q.base + self})
		if !slices.Equal(row.Languages, []string{row.Language}) {
			d.MaterialLangs = langViews(row.Languages)
		}
		for _, b := range row.Blobs {
			d.Attachments = append(d.Attachments, attachment{Href: blobHref(b), Name: b.Name, Type: b.MediaType, Size: humanSize(q.p, b.Size)})
		}
		d.Video = newVideoPlayer(row, q.lang)
		v.JSONLD = p.jsonLD(q, row, best, chosen, profiles)
		v.Data = d
		return p.html("resource", v, http.StatusOK)
	})
}

func (s shown) firstParagraph() string {
	if len(s.Paragraphs) == 0 {
		return ""
	}
	return s.Paragraphs[0]
}

// blobHref is where the hub serves an attachment.
func blobHref(b protocol.BlobRef) string {
	return "/files/" + b.SHA256 + "/" + url.PathEscape(b.Name)
}

// joinLabels is the labels of a vocabulary's terms in p's language, as a
// list.
func joinLabels(p *locale.Printer, kind string, terms []string) string {
	out := make([]string, len(terms))
	for i, t := range terms {
		out[i] = vocabLabel(p, kind, t)
	}
	return strings.Join(out, ", ")
}
