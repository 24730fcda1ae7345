package protocol

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Mirrors are read-only replicas of the public portal (docs/scale.md). A
// mirror enrols with a one-time token like a node, but holds no key and
// pushes nothing: its credential reads the public part of the changes feed,
// the erasures it must purge, and the registry's country bindings.

const (
	// PathMirrorEnrol is where a mirror exchanges its token for a credential.
	PathMirrorEnrol = "/v1/mirrors/enrol"
	// PathMirrorBindings lists which countries each node speaks for.
	PathMirrorBindings = "/v1/mirrors/bindings"
	// MirrorPrefix starts every mirror's token and credential
	// ("mirror:<name>.<secret>"), and names a mirror among an erasure's
	// holders ("mirror:<name>"). No node id has a colon.
	MirrorPrefix = "mirror:"
)

// ValidMirrorName checks a mirror's name: the rules of a node id.
func ValidMirrorName(name string) error {
	if err := ValidNodeID(name); err != nil {
		return fmt.Errorf("mirror name %q must be 2 to 16 lowercase letters, digits and '-', starting with a letter", name)
	}
	return nil
}

// MirrorHolder is how an erasure's holders name a mirror.
func MirrorHolder(name string) string { return MirrorPrefix + name }

// MirrorOf returns the mirror a holder names, false for a node.
func MirrorOf(holder string) (string, bool) { return strings.CutPrefix(holder, MirrorPrefix) }

// MirrorEnrolRequest is the body of POST /v1/mirrors/enrol.
type MirrorEnrolRequest struct {
	Token string `json:"token"`
}

// MirrorEnrolResponse gives a mirror its credential and what it needs to
// serve the portal exactly as the hub does.
type MirrorEnrolResponse struct {
	Name       string `json:"name"`
	Credential string `json:"credential"`
	Protocol   int    `json:"protocol"`
	// PublicURL is the portal's public address the hub was given (empty
	// when none): the mirror's default, so links and identifiers agree.
	PublicURL string `json:"public_url,omitempty"`
	// OAIKey authenticates OAI-PMH resumption tokens: shared, so a harvester
	// may continue on any mirror what it started on another.
	OAIKey            []byte `json:"oai_key,omitempty"`
	OAIAdminEmail     string `json:"oai_admin_email,omitempty"`
	OAIRepositoryName string `json:"oai_repository_name,omitempty"`
}

// MirrorFeed is one page of the changes feed as a mirror reads it: the
// public versions of entities, and a withdrawal for each entity that was
// public and is not any more (made private, or erased while private), so
// that a mirror never holds a version that is not public.
type MirrorFeed struct {
	HubSeq  int64            `json:"hub_seq"`
	Next    int64            `json:"next"`
	More    bool             `json:"more"`
	Changes []MirrorFeedItem `json:"changes"`
}

// MirrorFeedItem is a public change (Change and Sig set, verified like any
// pulled change) or a withdrawal (Withdrawn set to the entity's id).
type MirrorFeedItem struct {
	HubSeq int64 `json:"hub_seq"`
	Signed
	// AppliedAt is when the hub received the change (unix ms): the portal
	// dates what it shows by it, identically on every holder.
	AppliedAt int64  `json:"applied_at"`
	Withdrawn string `json:"withdrawn,omitempty"`
	// Erased marks a withdrawal that is an erasure, which the mirror
	// acknowledges once purged.
	Erased bool `json:"erased,omitempty"`
}

// AppendMirrorFeedItem appends one feed item; the change's bytes are
// copied verbatim, so the signature still verifies.
func AppendMirrorFeedItem(dst []byte, it MirrorFeedItem) []byte {
	if it.Withdrawn != "" {
		dst = append(dst, `{"hub_seq":`...)
		dst = strconv.AppendInt(dst, it.HubSeq, 10)
		dst = append(dst, `,"withdrawn":`...)
		dst = strconv.AppendQuote(dst, it.Withdrawn)
		if it.Erased {
			dst = append(dst, `,"erased":true`...)
		}
	} else {
		dst = AppendFeedItem(dst, it.HubSeq, it.Signed)
		dst = dst[:len(dst)-1]
	}
	dst = append(dst, `,"applied_at":`...)
	dst = strconv.AppendInt(dst, it.AppliedAt, 10)
	return append(dst, '}')
}

// MirrorBindings says which countries each node may publish a profile for,
// and whether the hub takes bulletin subscriptions (it has a mail server),
// so a mirror's pages offer the form exactly when the hub's do.
type MirrorBindings struct {
	Nodes             map[string][]string `json:"nodes"`
	SubscriptionsOpen bool                `json:"subscriptions_open"`
}

// EnrolMirror exchanges a one-time mirror token for a credential.
func (c *Client) EnrolMirror(ctx context.Context, token string) (*MirrorEnrolResponse, error) {
	var out MirrorEnrolResponse
	if err := c.do(ctx, http.MethodPost, PathMirrorEnrol, nil, MirrorEnrolRequest{Token: token}, &out); err != nil {
		return nil, fmt.Errorf("enrol mirror: %w", err)
	}
	return &out, nil
}

// MirrorBindings reads the registry's country bindings.
func (c *Client) MirrorBindings(ctx context.Context) (*MirrorBindings, error) {
	var out MirrorBindings
	if err := c.do(ctx, http.MethodGet, PathMirrorBindings, nil, nil, &out); err != nil {
		return nil, fmt.Errorf("country bindings: %w", err)
	}
	return &out, nil
}

// MirrorChanges reads one page of the mirror's feed after since, waiting up
// to wait for news.
func (c *Client) MirrorChanges(ctx context.Context, since int64, limit int, wait time.Duration) (*MirrorFeed, error) {
	var feed MirrorFeed
	err := c.getFeed(ctx, FeedQuery{Since: since, Limit: limit, Wait: wait}.values(), since, wait, func(body io.Reader, _ http.Header) error {
		return json.NewDecoder(body).Decode(&feed)
	})
	if err != nil {
		return nil, err
	}
	for _, it := range feed.Changes {
		if it.Withdrawn == "" && len(it.Change) == 0 {
			return nil, fmt.Errorf("changes since %d: item at hub_seq %d is neither a change nor a withdrawal", since, it.HubSeq)
		}
	}
	return &feed, nil
}
