package protocol

import "slices"

// The controlled vocabularies. They are part of the protocol: a record using a
// term outside them is refused, so every node and the portal's facets agree on
// the same words. Adding a term is a protocol change and goes in docs/protocol.md.
var (
	// Topics are the themes a resource addresses.
	Topics = []string{
		"cyberbullying", "sexting", "sextortion", "grooming", "hate-speech",
		"privacy", "data-protection", "media-literacy", "disinformation",
		"screen-time", "wellbeing", "scams", "gaming", "influencers",
		"positive-content", "digital-citizenship", "accessibility", "online-safety",
		"relationships", "artificial-intelligence",
	}
	// ResourceTypes are the forms a resource takes.
	ResourceTypes = []string{
		"guide", "handbook", "tip-sheet", "lesson-plan", "game", "quiz", "video",
		"app", "poster", "infographic", "report", "campaign", "podcast", "website",
	}
	// Audiences are who a resource is for.
	Audiences = []string{
		"children", "teens", "parents", "teachers", "youth-workers",
		"researchers", "industry", "policy-makers",
	}
	// Minisites are the portal's minisites a resource can be tagged for:
	// Safer Internet Day, BIK Youth and the Positive Online Content Campaign.
	Minisites = []string{"sid", "youth", "pocc"}
	// Spaces are where posts live: the four Communities of Practice, the youth
	// area, and public news.
	Spaces = []string{"awareness", "helplines", "youth-participation", "hotlines", "youth", "news"}
	// TranslationMethods say how a translation was made.
	TranslationMethods = []string{"human", "machine", "post-edited"}
	// ReviewStates say where a translation is in review.
	ReviewStates = []string{"unreviewed", "in-review", "reviewed"}
	// PostFormats distinguish blog posts from forum threads.
	PostFormats = []string{"blog", "thread"}
	// ModerationDecisions are what moderators decide.
	ModerationDecisions = []string{"approve", "hide"}
)

// spaceVisibility is the visibility each space demands: Communities of Practice
// are for signed-in members, the youth area is its own audience, news is public.
var spaceVisibility = map[string]Visibility{
	"awareness":           VisibilityCommunity,
	"helplines":           VisibilityCommunity,
	"youth-participation": VisibilityCommunity,
	"hotlines":            VisibilityCommunity,
	"youth":               VisibilityYouth,
	"news":                VisibilityPublic,
}

func inVocab(vocab []string, term string) bool { return slices.Contains(vocab, term) }
