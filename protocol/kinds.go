package protocol

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Resource is an educational resource published by a SIC.
type Resource struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	// Language is the language of Title and Description.
	Language string `json:"language"`
	// Languages are every language the resource itself is available in.
	Languages []string `json:"languages"`
	AgeMin    int      `json:"age_min"`
	AgeMax    int      `json:"age_max"`
	Audiences []string `json:"audiences"`
	Topics    []string `json:"topics"`
	Type      string   `json:"type"`
	Licence   string   `json:"licence,omitempty"`
	URL       string   `json:"url,omitempty"`
	Minisites []string `json:"minisites,omitempty"`
}

// Translation is one language version of a resource, made by any SIC.
// SourceVersion records the resource version it was made from: a translation is
// outdated when the resource has moved past it, computed, never set by hand.
type Translation struct {
	Resource      string `json:"resource"`
	SourceVersion int64  `json:"source_version"`
	Language      string `json:"language"`
	Title         string `json:"title"`
	Description   string `json:"description"`
	URL           string `json:"url,omitempty"`
	Method        string `json:"method"`
	Review        string `json:"review"`
}

// Post is a blog post or forum thread in a space.
type Post struct {
	Space    string   `json:"space"`
	Format   string   `json:"format"`
	Title    string   `json:"title"`
	Text     string   `json:"text"`
	Language string   `json:"language"`
	Author   Author   `json:"author"`
	Tags     []string `json:"tags,omitempty"`
}

// Comment is a reply to a post.
type Comment struct {
	Post     string `json:"post"`
	Text     string `json:"text"`
	Language string `json:"language"`
	Author   Author `json:"author"`
}

// Author says who wrote a post or a comment. It lives in the body, so the
// owner's signature covers it: a SIC cannot speak in another's name. A
// member of staff or of the coordination team is named, with the SIC that
// publishes the entity (the hub's id for the coordination team); a young
// person is only a pseudonym, <sic>-<handle>, never a name.
type Author struct {
	Name      string `json:"name,omitempty"`
	SIC       string `json:"sic,omitempty"`
	Pseudonym string `json:"pseudonym,omitempty"`
}

// MaxHandleLen bounds the handle of a pseudonym, after its "<sic>-" prefix.
const MaxHandleLen = 32

// validate checks the author of an entity owned by owner in space, a space
// of the list or "" when the space is not known (a comment's post lives
// elsewhere). An author that speaks for another SIC is a forgery, refused
// with CodeInvalidAuthor rather than as a mistyped field.
func (a *Author) validate(v *fieldErrors, owner, space string) {
	switch {
	case a.Pseudonym != "" && (a.Name != "" || a.SIC != ""):
		v.add("body.author", "either a pseudonym or a name with its SIC, not both")
	case a.Pseudonym != "":
		if space != "" && !IsYouthSpace(space) {
			v.add("body.author.pseudonym", "pseudonyms write in the youth spaces only; %s is a staff space", space)
			return
		}
		handle, ok := strings.CutPrefix(a.Pseudonym, owner+"-")
		if !ok {
			v.refuse(CodeInvalidAuthor, "body.author.pseudonym", "%q is not a pseudonym of %s: it must start with %q", a.Pseudonym, owner, owner+"-")
			return
		}
		if err := ValidHandle(handle); err != nil {
			v.add("body.author.pseudonym", "%v", err)
		}
	case a.Name != "" || a.SIC != "":
		requireName(v, "body.author.name", a.Name, MaxShortField)
		if a.SIC != owner {
			v.refuse(CodeInvalidAuthor, "body.author.sic", "%q: an author speaks for the SIC that publishes, %s", a.SIC, owner)
		}
	default:
		v.add("body.author", "required: a name with its sic, or a pseudonym")
	}
}

// ValidHandle checks the part of a pseudonym after its "<sic>-": lowercase
// letters and digits, single hyphens inside, at most MaxHandleLen bytes.
func ValidHandle(h string) error {
	ok := h != "" && len(h) <= MaxHandleLen && h[0] != '-' && h[len(h)-1] != '-' && !strings.Contains(h, "--")
	for i := 0; ok && i < len(h); i++ {
		c := h[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Errorf("handle %q is not 1 to %d lowercase letters, digits and single hyphens", h, MaxHandleLen)
	}
	return nil
}

// Profile is a SIC's national signposting.
type Profile struct {
	Country    string      `json:"country"`
	Name       string      `json:"name"`
	Languages  []string    `json:"languages"`
	Website    string      `json:"website,omitempty"`
	Awareness  *Awareness  `json:"awareness,omitempty"`
	Helpline   *Helpline   `json:"helpline,omitempty"`
	Hotline    *Hotline    `json:"hotline,omitempty"`
	YouthPanel *YouthPanel `json:"youth_panel,omitempty"`
}

// Awareness is a SIC's awareness centre.
type Awareness struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// Helpline is where children, young people and parents get advice.
type Helpline struct {
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
	Chat  string `json:"chat,omitempty"`
	Email string `json:"email,omitempty"`
	Hours string `json:"hours,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Hotline is where the public reports illegal content. Reports go to the
// hotline directly and never through bikfed.
type Hotline struct {
	Name      string `json:"name"`
	ReportURL string `json:"report_url"`
}

// YouthPanel is a SIC's youth panel.
type YouthPanel struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// Service is an entry of the guide to online services, written by the
// coordination team for children, parents and teachers.
//
// A record with a Slug is an entry of the guide's current form: its category
// comes from ServiceCategories and its age rating is explicit, a minimum age
// or NoMinimumAge. A record without one was published before the guide had
// addresses and vocabularies; it still validates and shows, and its
// MinimumAge of 0 means the guide does not say (see docs/protocol.md).
type Service struct {
	Name string `json:"name"`
	// Slug is the service's address on the portal: /services/<slug>.
	Slug        string `json:"slug,omitempty"`
	Category    string `json:"category"`
	Description string `json:"description"`
	URL         string `json:"url"`
	// MinimumAge is the minimum age in the service's terms; NoMinimumAge
	// says its terms set none, which 0 alone never says.
	MinimumAge   int  `json:"minimum_age"`
	NoMinimumAge bool `json:"no_minimum_age,omitempty"`
	// PEGI is the service's PEGI rating (3, 7, 12, 16 or 18), for games.
	PEGI int `json:"pegi,omitempty"`
	// AppStoreAge is the age rating of its app in Apple's App Store.
	AppStoreAge      string   `json:"app_store_age,omitempty"`
	SafetyFeatures   []string `json:"safety_features,omitempty"`
	PrivacyFeatures  []string `json:"privacy_features,omitempty"`
	ParentalControls []string `json:"parental_controls,omitempty"`
	// Features are the ServiceFeatures the service offers, which the
	// guide filters on; the three lists above say them in words.
	Features    []string `json:"features,omitempty"`
	HowToReport string   `json:"how_to_report,omitempty"`
	ReportURL   string   `json:"report_url,omitempty"`
	HowToBlock  string   `json:"how_to_block,omitempty"`
	BlockURL    string   `json:"block_url,omitempty"`
	// Topics are the resource topics the service touches, so its page can
	// offer resources about them.
	Topics   []string `json:"topics,omitempty"`
	Language string   `json:"language"`
	// Versions are the entry in other languages. The guide is the hub's,
	// so its translations travel in the signed record rather than as
	// translation entities, which are the SICs' and point at resources.
	Versions []ServiceVersion `json:"versions,omitempty"`
}

// ServiceVersion is a Service's texts in another language. A text left
// out is shown in the service's own language; a help page's address is
// given when the service has one in that language.
type ServiceVersion struct {
	Language         string   `json:"language"`
	Description      string   `json:"description,omitempty"`
	SafetyFeatures   []string `json:"safety_features,omitempty"`
	PrivacyFeatures  []string `json:"privacy_features,omitempty"`
	ParentalControls []string `json:"parental_controls,omitempty"`
	HowToReport      string   `json:"how_to_report,omitempty"`
	ReportURL        string   `json:"report_url,omitempty"`
	HowToBlock       string   `json:"how_to_block,omitempty"`
	BlockURL         string   `json:"block_url,omitempty"`
}

// MaxSlugLen bounds a service's slug.
const MaxSlugLen = 64

// ValidSlug checks a service's slug: lowercase letters and digits, single
// hyphens inside, at most MaxSlugLen bytes. It never has a colon, so it
// cannot be read as an entity id.
func ValidSlug(s string) error {
	ok := s != "" && len(s) <= MaxSlugLen && s[0] != '-' && s[len(s)-1] != '-' && !strings.Contains(s, "--")
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%q is not 1 to %d lowercase letters, digits and single hyphens", s, MaxSlugLen)
	}
	return nil
}

// Moderation is a moderator's decision about another entity.
type Moderation struct {
	Target   string `json:"target"`
	Decision string `json:"decision"`
	Reason   string `json:"reason,omitempty"`
}

// Flag is a member's report that a post or a comment breaks the network's
// rules. It is owned by the flagger's node and names the flagger like a
// comment names its author; it has its target's visibility, so it never
// reaches a public surface, and the hub's moderators decide on it.
type Flag struct {
	Target string `json:"target"`
	Reason string `json:"reason"`
	Text   string `json:"text,omitempty"`
	Author Author `json:"author"`
}

// MaxFlagText bounds a flag's free text: what went wrong, in a few
// sentences.
const MaxFlagText = 1000

func (r *Resource) validate(v *fieldErrors, c *Change) {
	requireName(v, "body.title", r.Title, MaxShortField)
	optionalText(v, "body.description", r.Description, MaxTextField)
	requireLang(v, "body.language", r.Language)
	requireList(v, "body.languages", r.Languages)
	each(v, "body.languages", r.Languages, requireLang)
	if r.AgeMin < 0 || r.AgeMin > 99 {
		v.add("body.age_min", "%d is not an age between 0 and 99", r.AgeMin)
	}
	if r.AgeMax < 0 || r.AgeMax > 99 {
		v.add("body.age_max", "%d is not an age between 0 and 99", r.AgeMax)
	}
	if r.AgeMin > r.AgeMax {
		v.add("body.age_max", "age range %d-%d is inverted", r.AgeMin, r.AgeMax)
	}
	requireList(v, "body.audiences", r.Audiences)
	vocabList(v, "body.audiences", r.Audiences, Audiences)
	requireList(v, "body.topics", r.Topics)
	vocabList(v, "body.topics", r.Topics, Topics)
	if !inVocab(ResourceTypes, r.Type) {
		v.add("body.type", "%q is not a resource type (%s)", r.Type, strings.Join(ResourceTypes, ", "))
	}
	optionalText(v, "body.licence", r.Licence, MaxShortField)
	optionalURL(v, "body.url", r.URL)
	vocabList(v, "body.minisites", r.Minisites, Minisites)
}

func (t *Translation) validate(v *fieldErrors, c *Change) {
	if _, err := SplitEntityID(t.Resource); err != nil {
		v.add("body.resource", "%v", err)
	}
	if t.SourceVersion < 1 {
		v.add("body.source_version", "must be the resource version translated, at least 1")
	}
	requireLang(v, "body.language", t.Language)
	requireName(v, "body.title", t.Title, MaxShortField)
	optionalText(v, "body.description", t.Description, MaxTextField)
	optionalURL(v, "body.url", t.URL)
	if !inVocab(TranslationMethods, t.Method) {
		v.add("body.method", "%q is not one of %s", t.Method, strings.Join(TranslationMethods, ", "))
	}
	if !inVocab(ReviewStates, t.Review) {
		v.add("body.review", "%q is not one of %s", t.Review, strings.Join(ReviewStates, ", "))
	}
}

func (p *Post) validate(v *fieldErrors, c *Change) {
	space := p.Space
	want, err := SpaceVisibility(space)
	switch {
	case err != nil:
		v.refuse(CodeInvalidSpace, "body.space", "%v", err)
		space = ""
	case space == SpaceNews && c.Owner != HubID:
		v.refuse(CodeInvalidSpace, "body.space", "news is the coordination team's: only the hub publishes in it")
	case strings.HasPrefix(space, youthSpacePrefix) && space != NationalYouthSpace(c.Owner):
		v.refuse(CodeInvalidSpace, "body.space", "%s is the national youth space of another SIC; %s writes in %s", space, c.Owner, NationalYouthSpace(c.Owner))
	case c.Visibility != want:
		v.refuse(CodeVisibilityMismatch, "visibility", "posts in %s are %s, not %s", space, want, c.Visibility)
	}
	if !inVocab(PostFormats, p.Format) {
		v.add("body.format", "%q is not one of %s", p.Format, strings.Join(PostFormats, ", "))
	}
	requireName(v, "body.title", p.Title, MaxShortField)
	requireText(v, "body.text", p.Text, MaxTextField)
	requireLang(v, "body.language", p.Language)
	p.Author.validate(v, c.Owner, space)
	if len(p.Tags) > MaxListLen {
		v.add("body.tags", "%d tags, limit %d", len(p.Tags), MaxListLen)
	}
	each(v, "body.tags", p.Tags, func(v *fieldErrors, field, tag string) { requireText(v, field, tag, 64) })
}

func (m *Comment) validate(v *fieldErrors, c *Change) {
	if _, err := SplitEntityID(m.Post); err != nil {
		v.add("body.post", "%v", err)
	}
	requireText(v, "body.text", m.Text, MaxTextField)
	requireLang(v, "body.language", m.Language)
	space := ""
	if c.Visibility != VisibilityYouth {
		// Only the youth spaces have youth visibility: any other comment is
		// in a staff space, whichever one its post is in.
		space = SpaceBlog
	}
	m.Author.validate(v, c.Owner, space)
	if c.Visibility == VisibilityPublic {
		v.add("visibility", "comments are for signed-in members, not public")
	}
}

func (p *Profile) validate(v *fieldErrors, c *Change) {
	if len(p.Country) != 2 || !isAlpha(p.Country) || strings.ToLower(p.Country) != p.Country {
		v.add("body.country", "%q is not a lowercase ISO 3166 alpha-2 code", p.Country)
	}
	requireName(v, "body.name", p.Name, MaxShortField)
	requireList(v, "body.languages", p.Languages)
	each(v, "body.languages", p.Languages, requireLang)
	optionalURL(v, "body.website", p.Website)
	if p.Awareness != nil {
		requireName(v, "body.awareness.name", p.Awareness.Name, MaxShortField)
		optionalURL(v, "body.awareness.url", p.Awareness.URL)
	}
	if h := p.Helpline; h != nil {
		requireName(v, "body.helpline.name", h.Name, MaxShortField)
		optionalText(v, "body.helpline.phone", h.Phone, 64)
		optionalURL(v, "body.helpline.chat", h.Chat)
		optionalText(v, "body.helpline.email", h.Email, MaxShortField)
		optionalText(v, "body.helpline.hours", h.Hours, MaxShortField)
		optionalURL(v, "body.helpline.url", h.URL)
		if h.Phone == "" && h.Chat == "" && h.Email == "" && h.URL == "" {
			v.add("body.helpline", "needs at least one way to reach it: phone, chat, email or url")
		}
	}
	if h := p.Hotline; h != nil {
		requireName(v, "body.hotline.name", h.Name, MaxShortField)
		if h.ReportURL == "" {
			v.add("body.hotline.report_url", "required")
		}
		optionalURL(v, "body.hotline.report_url", h.ReportURL)
	}
	if y := p.YouthPanel; y != nil {
		requireName(v, "body.youth_panel.name", y.Name, MaxShortField)
		optionalURL(v, "body.youth_panel.url", y.URL)
	}
	if c.Visibility != VisibilityPublic {
		v.add("visibility", "a national profile is signposting and must be public")
	}
}

func (s *Service) validate(v *fieldErrors, c *Change) {
	requireName(v, "body.name", s.Name, MaxShortField)
	guide := s.Slug != ""
	if guide {
		if err := ValidSlug(s.Slug); err != nil {
			v.add("body.slug", "%v", err)
		}
		if !inVocab(ServiceCategories, s.Category) {
			v.add("body.category", "%q is not a service category (%s)", s.Category, strings.Join(ServiceCategories, ", "))
		}
	} else {
		requireText(v, "body.category", s.Category, 64)
	}
	optionalText(v, "body.description", s.Description, MaxTextField)
	if s.URL == "" {
		v.add("body.url", "required")
	}
	optionalURL(v, "body.url", s.URL)
	switch {
	case s.MinimumAge < 0 || s.MinimumAge > 99:
		v.add("body.minimum_age", "%d is not an age between 0 and 99", s.MinimumAge)
	case s.NoMinimumAge && s.MinimumAge != 0:
		v.add("body.no_minimum_age", "the terms set a minimum age of %d or none, not both", s.MinimumAge)
	case guide && !s.NoMinimumAge && s.MinimumAge == 0:
		v.add("body.minimum_age", "an entry with a slug states its age: a minimum age from 1, or no_minimum_age")
	}
	if s.PEGI != 0 && !slices.Contains(PEGIRatings, s.PEGI) {
		v.add("body.pegi", "%d is not a PEGI rating (3, 7, 12, 16, 18)", s.PEGI)
	}
	if s.AppStoreAge != "" && !inVocab(AppStoreAges, s.AppStoreAge) {
		v.add("body.app_store_age", "%q is not an App Store age rating (%s)", s.AppStoreAge, strings.Join(AppStoreAges, ", "))
	}
	// Before the guide had slugs, a safety feature had no limit of its own.
	if guide {
		textList(v, "body.safety_features", s.SafetyFeatures)
	} else if len(s.SafetyFeatures) > MaxListLen {
		v.add("body.safety_features", "%d features, limit %d", len(s.SafetyFeatures), MaxListLen)
	}
	textList(v, "body.privacy_features", s.PrivacyFeatures)
	textList(v, "body.parental_controls", s.ParentalControls)
	if len(s.Features) > MaxListLen {
		v.add("body.features", "%d entries, limit %d", len(s.Features), MaxListLen)
	}
	vocabList(v, "body.features", s.Features, ServiceFeatures)
	optionalText(v, "body.how_to_report", s.HowToReport, MaxTextField)
	optionalURL(v, "body.report_url", s.ReportURL)
	optionalText(v, "body.how_to_block", s.HowToBlock, MaxTextField)
	optionalURL(v, "body.block_url", s.BlockURL)
	if len(s.Topics) > MaxListLen {
		v.add("body.topics", "%d entries, limit %d", len(s.Topics), MaxListLen)
	}
	vocabList(v, "body.topics", s.Topics, Topics)
	requireLang(v, "body.language", s.Language)
	if len(s.Versions) > MaxListLen {
		v.add("body.versions", "%d versions, limit %d", len(s.Versions), MaxListLen)
		return
	}
	for i := range s.Versions {
		sv := &s.Versions[i]
		f := fmt.Sprintf("body.versions[%d]", i)
		requireLang(v, f+".language", sv.Language)
		switch {
		case sv.Language == s.Language:
			v.add(f+".language", "%q is the entry's own language", sv.Language)
		case slices.ContainsFunc(s.Versions[:i], func(o ServiceVersion) bool { return o.Language == sv.Language }):
			v.add(f+".language", "%q repeated", sv.Language)
		}
		optionalText(v, f+".description", sv.Description, MaxTextField)
		textList(v, f+".safety_features", sv.SafetyFeatures)
		textList(v, f+".privacy_features", sv.PrivacyFeatures)
		textList(v, f+".parental_controls", sv.ParentalControls)
		optionalText(v, f+".how_to_report", sv.HowToReport, MaxTextField)
		optionalURL(v, f+".report_url", sv.ReportURL)
		optionalText(v, f+".how_to_block", sv.HowToBlock, MaxTextField)
		optionalURL(v, f+".block_url", sv.BlockURL)
		if sv.Description == "" && sv.HowToReport == "" && sv.HowToBlock == "" && len(sv.SafetyFeatures) == 0 &&
			len(sv.PrivacyFeatures) == 0 && len(sv.ParentalControls) == 0 {
			v.add(f, "a version says something: at least one text")
		}
	}
	if c.Visibility != VisibilityPublic && guide {
		v.add("visibility", "an entry of the guide is public")
	}
}

// textList checks a list of short texts shown one by one: at most
// MaxListLen entries, each non-empty and at most MaxShortField bytes.
func textList(v *fieldErrors, field string, list []string) {
	if len(list) > MaxListLen {
		v.add(field, "%d entries, limit %d", len(list), MaxListLen)
		return
	}
	each(v, field, list, func(v *fieldErrors, f, s string) { requireText(v, f, s, MaxShortField) })
}

// MaxModerationReason bounds a moderation decision's reason: a few
// sentences shown to the author's SIC, not an essay.
const MaxModerationReason = 2000

func (m *Moderation) validate(v *fieldErrors, c *Change) {
	// Moderators decide about what SICs write: the hub's own entities are
	// not moderated. An id does not say its kind; the nodes apply a
	// decision to posts and comments only.
	if owner, err := SplitEntityID(m.Target); err != nil {
		v.add("body.target", "%v", err)
	} else if owner == HubID {
		v.add("body.target", "the hub's own entity %q is not moderated", m.Target)
	}
	if !inVocab(ModerationDecisions, m.Decision) {
		v.add("body.decision", "%q is not one of %s", m.Decision, strings.Join(ModerationDecisions, ", "))
	}
	// The author's SIC is told why its post or comment was hidden.
	if m.Decision == "hide" {
		requireText(v, "body.reason", m.Reason, MaxModerationReason)
	} else {
		optionalText(v, "body.reason", m.Reason, MaxModerationReason)
	}
	if c.Visibility == VisibilityPublic {
		v.add("visibility", "moderation decisions are not public")
	}
}

func (f *Flag) validate(v *fieldErrors, c *Change) {
	if _, err := SplitEntityID(f.Target); err != nil {
		v.add("body.target", "%v", err)
	} else if f.Target == c.ID {
		v.add("body.target", "a flag names another entity")
	}
	if !inVocab(FlagReasons, f.Reason) {
		v.add("body.reason", "%q is not one of %s", f.Reason, strings.Join(FlagReasons, ", "))
	}
	// "other" says nothing by itself: the moderator needs the words.
	if f.Reason == "other" {
		requireText(v, "body.text", f.Text, MaxFlagText)
	} else {
		optionalText(v, "body.text", f.Text, MaxFlagText)
	}
	// A flag has its target's visibility, and only posts and comments are
	// flagged, which are never public unless they are the hub's news.
	if c.Visibility == VisibilityPublic {
		v.add("visibility", "flags are not public")
	}
	space := ""
	if c.Visibility == VisibilityCommunity {
		space = SpaceBlog // any staff space: a pseudonym flags only in youth spaces
	}
	f.Author.validate(v, c.Owner, space)
}

func requireText(v *fieldErrors, field, s string, max int) {
	if strings.TrimSpace(s) == "" {
		v.add(field, "required")
		return
	}
	optionalText(v, field, s, max)
}

// requireName is requireText for a title or a name: text shown on its own,
// in lists, headings and links, where a bidirectional control could make it
// read as something else.
func requireName(v *fieldErrors, field, s string, max int) {
	requireText(v, field, s, max)
	if r, ok := BidiControl(s); ok {
		v.add(field, "has the bidirectional control U+%04X", r)
	}
}

// BidiControl returns the first Unicode bidirectional embedding, override or
// isolate control (U+202A–U+202E, U+2066–U+2069) in s. In a title, a name or
// a file name they make text display in another order than it is stored in:
// "invoice\u202Efdp.exe" shows as "invoiceexe.pdf".
func BidiControl(s string) (rune, bool) {
	for _, r := range s {
		if (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			return r, true
		}
	}
	return 0, false
}

func optionalText(v *fieldErrors, field, s string, max int) {
	if len(s) > max {
		v.add(field, "%d bytes, limit %d", len(s), max)
	}
}

func requireLang(v *fieldErrors, field, tag string) {
	canon, err := ParseLanguageTag(tag)
	if err != nil {
		v.add(field, "%v", err)
		return
	}
	if canon != tag {
		v.add(field, "%q must be written %q", tag, canon)
	}
}

func requireList(v *fieldErrors, field string, list []string) {
	if len(list) == 0 {
		v.add(field, "at least one required")
	}
	if len(list) > MaxListLen {
		v.add(field, "%d entries, limit %d", len(list), MaxListLen)
	}
}

// each checks every element of list, naming a refused one field[i]. The
// name is only made for a refusal: formatting one per element cost more
// than the checks themselves.
func each(v *fieldErrors, field string, list []string, check func(v *fieldErrors, field, s string)) {
	for i, s := range list {
		n := len(v.fields)
		check(v, "", s)
		for j := n; j < len(v.fields); j++ {
			v.fields[j].Field = fmt.Sprintf("%s[%d]", field, i)
		}
	}
}

func vocabList(v *fieldErrors, field string, list, vocab []string) {
	// A list within the limit is searched for repeats in place; a longer
	// one (refused anyway) through a set, so that its length cannot make
	// the search quadratic.
	var seen map[string]bool
	if len(list) > MaxListLen {
		seen = make(map[string]bool, len(list))
	}
	for i, term := range list {
		if !inVocab(vocab, term) {
			v.add(fmt.Sprintf("%s[%d]", field, i), "%q is not in the vocabulary (%s)", term, strings.Join(vocab, ", "))
		}
		var repeated bool
		if seen != nil {
			repeated = seen[term]
			seen[term] = true
		} else {
			repeated = slices.Contains(list[:i], term)
		}
		if repeated {
			v.add(fmt.Sprintf("%s[%d]", field, i), "%q repeated", term)
		}
	}
}

func optionalURL(v *fieldErrors, field, s string) {
	if s == "" {
		return
	}
	if len(s) > 2048 {
		v.add(field, "URL longer than 2048 bytes")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "mailto" && u.Scheme != "tel") || (u.Host == "" && u.Opaque == "") {
		v.add(field, "%q is not an http(s), mailto or tel URL", s)
	}
}
