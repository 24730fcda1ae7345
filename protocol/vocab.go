package protocol

import (
	"fmt"
	"slices"
	"strings"
)

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
	// Spaces are where posts live: the four Communities of Practice, the
	// network's blog, the European youth space and public news. Each SIC
	// also has its national youth space, NationalYouthSpace(its node id),
	// which SpaceVisibility knows without a list.
	Spaces = []string{"awareness", "helplines", "youth-participation", "hotlines", SpaceBlog, SpaceYouth, SpaceNews}
	// TranslationMethods say how a translation was made.
	TranslationMethods = []string{"human", "machine", "post-edited"}
	// ReviewStates say where a translation is in review.
	ReviewStates = []string{"unreviewed", "in-review", "reviewed"}
	// PostFormats distinguish blog posts from forum threads.
	PostFormats = []string{"blog", "thread"}
	// ModerationDecisions are what moderators decide: approve a post held
	// for review, hide a post or a comment from the network, restore one
	// hidden, or dismiss a report without changing anything.
	ModerationDecisions = []string{"approve", "hide", "restore", "dismiss"}
	// FlagReasons are why a member flags a post or a comment: a short list
	// a moderator can sort by, with free text beside it ("other" needs it).
	FlagReasons = []string{"harassment", "personal-data", "harmful", "spam", "off-topic", "other"}
	// ServiceCategories are the kinds of service the guide lists.
	ServiceCategories = []string{"social-network", "video-sharing", "messaging", "game", "community-chat", "ai-chatbot"}
	// ServiceFeatures are the protections a service offers that the guide
	// lets parents filter on.
	ServiceFeatures = []string{"parental-controls", "private-by-default", "message-controls", "time-limits", "content-filters", "spending-limits"}
	// PEGIRatings are the age labels of PEGI, the European game rating.
	PEGIRatings = []int{3, 7, 12, 16, 18}
	// AppStoreAges are the age ratings of Apple's App Store, the older
	// (4+, 9+, 12+, 17+) and the current (4+, 9+, 13+, 16+, 18+).
	AppStoreAges = []string{"4+", "9+", "12+", "13+", "16+", "17+", "18+"}
)

// The spaces other code names.
const (
	SpaceBlog  = "blog"
	SpaceYouth = "youth"
	SpaceNews  = "news"
	// youthSpacePrefix starts a national youth space: youth:<sic>.
	youthSpacePrefix = "youth:"
)

// spaceVisibility is the visibility each space demands: Communities of
// Practice and the blog are for signed-in staff, the youth spaces are their
// own audience, news is public.
var spaceVisibility = map[string]Visibility{
	"awareness":           VisibilityCommunity,
	"helplines":           VisibilityCommunity,
	"youth-participation": VisibilityCommunity,
	"hotlines":            VisibilityCommunity,
	SpaceBlog:             VisibilityCommunity,
	SpaceYouth:            VisibilityYouth,
	SpaceNews:             VisibilityPublic,
}

// NationalYouthSpace is the closed youth space of the SIC whose node id is
// sic. Its posts and their comments never leave that SIC's node.
func NationalYouthSpace(sic string) string { return youthSpacePrefix + sic }

// NationalYouthSIC returns the SIC of a national youth space, or false when
// space is not one. The hub is no SIC and has none: what it publishes goes
// to every node.
func NationalYouthSIC(space string) (string, bool) {
	sic, ok := strings.CutPrefix(space, youthSpacePrefix)
	if !ok || sic == HubID || ValidNodeID(sic) != nil {
		return "", false
	}
	return sic, true
}

// IsYouthSpace reports whether space is the European youth space or a
// national one: the spaces where young people write under a pseudonym.
func IsYouthSpace(space string) bool {
	_, national := NationalYouthSIC(space)
	return space == SpaceYouth || national
}

// SpaceVisibility returns the visibility the posts of space have, or an
// error naming the spaces when space is none of them.
func SpaceVisibility(space string) (Visibility, error) {
	if v, ok := spaceVisibility[space]; ok {
		return v, nil
	}
	if _, ok := NationalYouthSIC(space); ok {
		return VisibilityYouth, nil
	}
	return "", fmt.Errorf("%q is not a space (%s, or %s<sic> for a SIC's national youth space)", space, strings.Join(Spaces, ", "), youthSpacePrefix)
}

func inVocab(vocab []string, term string) bool { return slices.Contains(vocab, term) }
