package protocol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"time"
)

// API paths of the hub's sync API, version 1.
const (
	PathEnrol    = "/v1/enrol"
	PathPush     = "/v1/push"
	PathChanges  = "/v1/changes"
	PathKeys     = "/v1/keys"
	PathManifest = "/v1/manifest"
	PathStatus   = "/v1/status"
)

// ContentTypeNDJSON is the media type of push bodies.
const ContentTypeNDJSON = "application/x-ndjson"

// EnrolRequest binds a node's public key with a one-time enrolment token.
type EnrolRequest struct {
	Node      string            `json:"node"`
	Token     string            `json:"token"`
	KeyID     string            `json:"key_id"`
	PublicKey ed25519.PublicKey `json:"public_key"`
	Epoch     string            `json:"epoch"`
}

// EnrolResponse carries the node's API credential, shown once.
type EnrolResponse struct {
	Node       string `json:"node"`
	Name       string `json:"name"`
	Credential string `json:"credential"`
	Protocol   int    `json:"protocol"`
	HubSeq     int64  `json:"hub_seq"`
	// Countries are the ISO 3166 codes the node may publish a profile for.
	Countries []string `json:"countries,omitempty"`
}

// PushHeader is the first line of a push. It declares the seq range the batch
// covers, so the hub can advance the node's checkpoint over records it refused.
type PushHeader struct {
	Node  string `json:"node"`
	Epoch string `json:"epoch"`
	// FromSeq and ToSeq bound the outbox seqs in the batch, inclusive.
	FromSeq int64 `json:"from_seq"`
	ToSeq   int64 `json:"to_seq"`
	// HeadSeq is the node's latest outbox seq, for lag reporting.
	HeadSeq int64 `json:"head_seq"`
}

// Refusal names a refused record and why. Line is the record's line in the push
// body (the header is line 1), for records too broken to name otherwise.
type Refusal struct {
	Line    int       `json:"line,omitempty"`
	Seq     int64     `json:"seq,omitempty"`
	ID      string    `json:"id,omitempty"`
	Version int64     `json:"version,omitempty"`
	Code    Code      `json:"code"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at,omitzero"`
}

// Name is how messages refer to the refused record.
func (r Refusal) Name() string {
	switch {
	case r.ID != "" && r.Version > 0:
		return r.ID + " v" + strconv.FormatInt(r.Version, 10)
	case r.ID != "":
		return r.ID
	case r.Seq > 0:
		return "seq " + strconv.FormatInt(r.Seq, 10)
	}
	return "line " + strconv.Itoa(r.Line)
}

// PushResult is the hub's answer to a push.
type PushResult struct {
	Node  string `json:"node"`
	Epoch string `json:"epoch"`
	// AppliedSeq is the node's checkpoint: the highest seq the hub has processed,
	// applied or refused. The next push starts after it.
	AppliedSeq int64     `json:"applied_seq"`
	Applied    int       `json:"applied"`
	Duplicates int       `json:"duplicates"`
	Refused    []Refusal `json:"refused,omitempty"`
	// Truncated says the hub stopped reading at a limit; push again from AppliedSeq+1.
	Truncated bool `json:"truncated,omitempty"`
	// MissingSeq is the first seq of the header's range the body did not
	// carry; the hub stopped there and AppliedSeq is just below it.
	MissingSeq int64 `json:"missing_seq,omitempty"`
	HubSeq     int64 `json:"hub_seq"`
}

// Checkpoint is a node's push position at the hub.
type Checkpoint struct {
	Epoch      string `json:"epoch"`
	AppliedSeq int64  `json:"applied_seq"`
}

// Feed is one page of the hub's changes feed.
type Feed struct {
	// HubSeq is the hub's latest hub_seq when the page was read.
	HubSeq int64 `json:"hub_seq"`
	// Next is the cursor to ask for next; store it with the page's rows.
	Next int64 `json:"next"`
	More bool  `json:"more"`
	// You is the requesting node's checkpoint, so a node restored from a backup
	// notices that the hub holds seqs it does not.
	You     *Checkpoint `json:"you,omitempty"`
	Changes []FeedItem  `json:"changes"`
	// Incarnation is the hub's current incarnation (header
	// Bikfed-Hub-Incarnation), empty when the hub does not send one.
	Incarnation string `json:"-"`
	// LineageSeq is set when the request named an incarnation other than the
	// current one (header Bikfed-Lineage-Seq): the hub_seq up to which the
	// hub's database holds the history that incarnation served; 0 when it
	// does not know it. A cursor past it was given by a history the hub lost.
	LineageSeq *int64 `json:"-"`
}

// FeedItem is one change in the feed.
type FeedItem struct {
	HubSeq int64 `json:"hub_seq"`
	Signed
}

// OwnerDigest summarises one owner's entities.
type OwnerDigest struct {
	Owner  string `json:"owner"`
	Count  int    `json:"count"`
	Digest string `json:"digest"`
}

// Manifest is the per-owner summary of an aggregate, for reconciliation.
type Manifest struct {
	HubSeq int64         `json:"hub_seq"`
	Owners []OwnerDigest `json:"owners"`
	// Entries is filled when one owner's detail was asked for.
	Entries []ManifestEntry `json:"entries,omitempty"`
}

// ManifestEntry is one entity in a detailed manifest.
type ManifestEntry struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Hash    string `json:"hash"`
}

// Digest accumulates an owner digest. Entries must be added in id order:
// SHA-256 over "id version hash\n" lines.
type Digest struct {
	h     hash.Hash
	count int
}

// NewDigest starts an owner digest.
func NewDigest() *Digest { return &Digest{h: sha256.New()} }

// Add adds one entity, given the SHA-256 of its change bytes.
func (d *Digest) Add(id string, version int64, changeHash []byte) {
	var buf [128]byte
	b := append(buf[:0], id...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, version, 10)
	b = append(b, ' ')
	b = hex.AppendEncode(b, changeHash)
	b = append(b, '\n')
	d.h.Write(b)
	d.count++
}

// Count is the number of entities added.
func (d *Digest) Count() int { return d.count }

// Sum returns the hex digest.
func (d *Digest) Sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// NodeStatus is one node's sync health as the hub sees it.
type NodeStatus struct {
	Node     string `json:"node"`
	Name     string `json:"name"`
	Enrolled bool   `json:"enrolled"`
	// Suspended and Removed are the coordination team's actions on the node.
	Suspended  bool   `json:"suspended,omitempty"`
	Removed    bool   `json:"removed,omitempty"`
	Epoch      string `json:"epoch"`
	AppliedSeq int64  `json:"applied_seq"`
	HeadSeq    int64  `json:"head_seq"`
	// PushLag is how many outbox changes the node reported that the hub has not processed.
	PushLag    int64 `json:"push_lag"`
	PullCursor int64 `json:"pull_cursor"`
	// PullLag is how many hub changes the node has not pulled yet.
	PullLag int64 `json:"pull_lag"`
	// PullLagSeconds is the age of the oldest change the node has not pulled.
	PullLagSeconds float64 `json:"pull_lag_seconds"`
	// CursorAhead is how far the node's pull cursor is past the hub's head:
	// the hub lost changes the node had (restored from an older copy), and
	// the node has not yet noticed. 0 otherwise.
	CursorAhead   int64      `json:"cursor_ahead,omitempty"`
	LastPushAt    *time.Time `json:"last_push_at,omitempty"`
	LastPullAt    *time.Time `json:"last_pull_at,omitempty"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	Entities      int        `json:"entities"`
	Refusals      []Refusal  `json:"refusals,omitempty"`
	RefusalCount  int        `json:"refusal_count"`
	// Live is the node's liveness: with gossip, "alive", "dead" (stopped
	// answering) or "left" (said goodbye); without gossip, or for a node
	// gossip has not seen, "alive" when its last HTTP contact is recent and
	// "silent" when it is not, or "never" before any contact. LiveSource says
	// which: "gossip" or "http". LiveSince is when gossip saw the node enter
	// its state, or the node's last HTTP contact.
	Live       string     `json:"live,omitempty"`
	LiveSource string     `json:"live_source,omitempty"`
	LiveSince  *time.Time `json:"live_since,omitempty"`
	// Version is the sync protocol version the node announces over gossip;
	// 0 when unknown.
	Version int `json:"version,omitempty"`
	// AnnouncedSeq is the outbox head the node last announced over gossip.
	// Ahead of HeadSeq, the node has written changes its push has not
	// delivered yet; PushLag counts them.
	AnnouncedSeq int64 `json:"announced_seq,omitempty"`
}

// NetworkStatus is the hub's view of every node.
type NetworkStatus struct {
	HubSeq int64 `json:"hub_seq"`
	// PortalIndexedSeq is the hub_seq up to which the hub's portal index
	// reflects the aggregate.
	PortalIndexedSeq int64        `json:"portal_indexed_seq,omitempty"`
	Entities         int          `json:"entities"`
	Nodes            []NodeStatus `json:"nodes"`
	Erasures         []Erasure    `json:"erasures,omitempty"`
}
