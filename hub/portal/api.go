package portal

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// apiResource is a resource as the JSON API shows it.
type apiResource struct {
	ID                 string           `json:"id"`
	URL                string           `json:"url"`
	Owner              string           `json:"owner"`
	Publisher          string           `json:"publisher"`
	Version            int64            `json:"version"`
	UpdatedAt          time.Time        `json:"updated_at"`
	Title              string           `json:"title"`
	Description        string           `json:"description"`
	Language           string           `json:"language"`
	Languages          []string         `json:"languages"`
	AvailableLanguages []string         `json:"available_languages"`
	AgeMin             int              `json:"age_min"`
	AgeMax             int              `json:"age_max"`
	Type               string           `json:"type"`
	Topics             []string         `json:"topics"`
	Audiences          []string         `json:"audiences"`
	Minisites          []string         `json:"minisites"`
	Licence            string           `json:"licence,omitempty"`
	ResourceURL        string           `json:"resource_url,omitempty"`
	Attachments        []apiAttachment  `json:"attachments"`
	Translations       []apiTranslation `json:"translations,omitempty"`
}

type apiAttachment struct {
	protocol.BlobRef
	URL string `json:"url"`
}

type apiTranslation struct {
	ID            string    `json:"id"`
	Owner         string    `json:"owner"`
	Language      string    `json:"language"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	URL           string    `json:"url,omitempty"`
	Method        string    `json:"method"`
	Review        string    `json:"review"`
	SourceVersion int64     `json:"source_version"`
	Outdated      bool      `json:"outdated"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func (p *Portal) apiResource(q *req, r *resourceRow, profiles *profileSet) apiResource {
	nz := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	a := apiResource{
		ID: r.ID, URL: q.base + "/resources/" + r.ID, Owner: r.Owner, Publisher: profiles.publisher(p.langs.en, r.Owner),
		Version: r.Version, UpdatedAt: r.Updated, Title: r.Title, Description: r.Description, Language: r.Language,
		Languages: nz(r.Languages), AvailableLanguages: unionLangs(r.Language, r.TransLangs), AgeMin: r.AgeMin,
		AgeMax: r.AgeMax, Type: r.Type, Topics: nz(r.Topics), Audiences: nz(r.Audiences), Minisites: nz(r.Minisites),
		Licence: r.Licence, ResourceURL: r.URL, Attachments: []apiAttachment{},
	}
	for _, b := range r.Blobs {
		a.Attachments = append(a.Attachments, apiAttachment{BlobRef: b, URL: q.base + blobHref(b)})
	}
	return a
}

type apiFacets struct {
	Lang     []facetCount `json:"lang"`
	Age      []facetCount `json:"age"`
	Topic    []facetCount `json:"topic"`
	Type     []facetCount `json:"type"`
	Audience []facetCount `json:"audience"`
	Country  []facetCount `json:"country"`
	Minisite []facetCount `json:"minisite"`
}

// handleAPISearch is GET /api/v1/resources: the gallery query as JSON, with
// the same parameters and the facet counts.
func (p *Portal) handleAPISearch(w http.ResponseWriter, r *http.Request, q *req) {
	query, err := parseQuery(r.URL.Query(), "", true)
	if err != nil {
		p.apiError(w, r, http.StatusBadRequest, protocol.CodeBadRequest, err.Error())
		return
	}
	params := query.encode()
	p.respond(w, r, q.key("api")+"|"+params.Encode(), func() (*response, error) {
		ctx := r.Context()
		res, err := p.search(ctx, query)
		if err != nil {
			return nil, err
		}
		profiles := p.profiles(ctx)
		label := func(f facet, list []facetCount) []facetCount {
			out := make([]facetCount, len(list))
			for i, fc := range list {
				switch f {
				case facetLang:
					fc.Label = languageName(fc.Value)
				case facetCountry:
					fc.Label = profiles.publisher(p.langs.en, fc.Value)
				case facetMinisite:
					fc.Label = minisiteView(p.langs.en, fc.Value).Name
				default:
					fc.Label = humanize(fc.Value)
				}
				out[i] = fc
			}
			return out
		}
		out := struct {
			Total      int           `json:"total"`
			Page       int           `json:"page"`
			PerPage    int           `json:"per_page"`
			Pages      int           `json:"pages"`
			Sort       string        `json:"sort"`
			IndexedSeq int64         `json:"indexed_seq"`
			Resources  []apiResource `json:"resources"`
			Facets     apiFacets     `json:"facets"`
			Next       string        `json:"next,omitempty"`
		}{
			Total: res.Total, Page: query.Page, PerPage: query.PerPage, Sort: query.Sort,
			Pages: max(1, (res.Total+query.PerPage-1)/query.PerPage), IndexedSeq: p.cursor.Load(),
			Resources: []apiResource{},
		}
		for _, row := range res.Items {
			out.Resources = append(out.Resources, p.apiResource(q, row, profiles))
		}
		out.Facets = apiFacets{
			Lang: label(facetLang, res.Facets[facetLang]), Age: res.Ages, Topic: label(facetTopic, res.Facets[facetTopic]),
			Type: label(facetType, res.Facets[facetType]), Audience: label(facetAudience, res.Facets[facetAudience]),
			Country: label(facetCountry, res.Facets[facetCountry]), Minisite: label(facetMinisite, res.Facets[facetMinisite]),
		}
		if query.Page < out.Pages && query.Page < maxPage {
			out.Next = q.base + link("/api/v1/resources", query.withPage(query.Page+1).encode())
		}
		return jsonResponse(out)
	})
}

// handleAPIResource is GET /api/v1/resources/{id}: one resource with its
// translations, each marked outdated when the resource has moved past it.
func (p *Portal) handleAPIResource(w http.ResponseWriter, r *http.Request, q *req, id string) {
	p.respond(w, r, q.key("api-res")+"|"+id, func() (*response, error) {
		ctx := r.Context()
		row, err := p.resource(ctx, id)
		if err != nil {
			return nil, err
		}
		if row == nil {
			return apiErrorResponse(http.StatusNotFound, protocol.CodeNotFound, "no such public resource"), nil
		}
		ts, err := p.translations(ctx, row)
		if err != nil {
			return nil, err
		}
		a := p.apiResource(q, row, p.profiles(ctx))
		a.Translations = []apiTranslation{}
		for _, t := range ts {
			a.Translations = append(a.Translations, apiTranslation{ID: t.ID, Owner: t.Owner, Language: t.Language,
				Title: t.Title, Description: t.Description, URL: t.URL, Method: t.Method, Review: t.Review,
				SourceVersion: t.SourceVersion, Outdated: t.Outdated, UpdatedAt: t.Updated})
		}
		return jsonResponse(a)
	})
}

func jsonResponse(v any) (*response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusOK, ctype: "application/json", body: append(b, '\n')}, nil
}

func apiErrorResponse(status int, code protocol.Code, msg string) *response {
	b, _ := json.Marshal(protocol.ErrorResponse{Error: &protocol.Error{Code: code, Message: msg}})
	return &response{status: status, ctype: "application/json", body: append(b, '\n')}
}

func (p *Portal) apiError(w http.ResponseWriter, r *http.Request, status int, code protocol.Code, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	p.write(w, r, apiErrorResponse(status, code, msg))
}
