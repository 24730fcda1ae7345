package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// PathErasureAck is where a node acknowledges the erasures it has purged.
const PathErasureAck = "/v1/erasures/ack"

// PathErasureStatus is where a node asks how far its own erasures have got.
const PathErasureStatus = "/v1/erasures/status"

// Limits of an erasure acknowledgement.
const (
	// MaxErasureAcks is how many erasures one acknowledgement may name; a
	// node with more sends several.
	MaxErasureAcks = 1000
	// MaxErasureAckBytes bounds its body: MaxErasureAcks numbers of up to 19
	// digits with their commas, and room for spaces.
	MaxErasureAckBytes = 64 << 10
	// MaxErasureReason bounds the coordination team's reason for an erasure.
	MaxErasureReason = 2048
	// MaxErasureStatusIDs is how many entities one status request may
	// name; a node with more asks several times.
	MaxErasureStatusIDs = 500
	// MaxErasureStatusBytes bounds a status request's body.
	MaxErasureStatusBytes = 64 << 10
	// MaxErasureGroup bounds the label of a group of erasures.
	MaxErasureGroup = 64
)

// ErasureStatusRequest is the body of POST /v1/erasures/status: a node asks
// how far the erasures of its own entities IDs have got. A Group labels them
// as one (the erasure of a person: everything one member wrote), so that
// the coordination team sees them together; it is the node's own label
// (lowercase letters, digits and hyphens) and says nothing about the
// person.
type ErasureStatusRequest struct {
	Group string   `json:"group,omitempty"`
	IDs   []string `json:"ids"`
}

// ErasureStatusResult answers a status request, one state per id asked
// about, in the order asked.
type ErasureStatusResult struct {
	Erasures []ErasureState `json:"erasures"`
}

// ErasureState is how far the erasure of one entity has got.
type ErasureState struct {
	ID string `json:"id"`
	// HubSeq is the erasure's on the hub: 0 while the hub has not applied
	// an erasure of the entity (it has not been pushed yet, or the entity
	// was not erased). Once it has, the hub holds no copy of the entity's
	// text.
	HubSeq int64 `json:"hub_seq"`
	// Complete is set when every holder has acknowledged the erasure and
	// the hub has purged its own files (§17).
	Complete bool `json:"complete"`
	// Holders are the nodes that held a copy, and whether each has
	// acknowledged its purge.
	Holders []HolderState `json:"holders"`
}

// HolderState is one holder of an erasure.
type HolderState struct {
	Node  string `json:"node"`
	Acked bool   `json:"acked"`
}

// ErasureAck is the body of POST /v1/erasures/ack: the hub_seqs of erasures
// the node has applied and durably purged (§17).
type ErasureAck struct {
	HubSeqs []int64 `json:"hub_seqs"`
}

// ErasureAckResult answers an acknowledgement.
type ErasureAckResult struct {
	// Acknowledged lists the hub_seqs recorded for the node: the erasures it
	// was holding a copy for. Any other hub_seq is accepted and ignored, so a
	// node can forget everything it sent once the hub answered.
	Acknowledged []int64 `json:"acknowledged"`
}

// Erasure tracks a GDPR erasure until every holder has acknowledged it.
type Erasure struct {
	ID     string    `json:"id"`
	HubSeq int64     `json:"hub_seq"`
	At     time.Time `json:"at"`
	// By is who issued it: ErasedByOwner, or ErasedByHub when the
	// coordination team erased another owner's entity, with its Reason.
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
	// Group is the owner's label for the erasures it asked about together
	// (ErasureStatusRequest), such as all of one person's; empty for none.
	Group string `json:"group,omitempty"`
	// Pending lists the holders that have not acknowledged it yet.
	Pending  []string   `json:"pending,omitempty"`
	Complete bool       `json:"complete"`
	DoneAt   *time.Time `json:"done_at,omitempty"`
}

// Who issued an erasure.
const (
	ErasedByOwner = "owner"
	ErasedByHub   = "hub"
)

// DecodeErasureAck reads and validates an acknowledgement body, reading at
// most MaxErasureAckBytes of r.
func DecodeErasureAck(r io.Reader) (*ErasureAck, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxErasureAckBytes+1))
	if err != nil {
		return nil, Errorf(CodeBadRequest, "read erasure acknowledgement: %v", err)
	}
	if len(raw) > MaxErasureAckBytes {
		return nil, Errorf(CodeRecordTooLarge, "erasure acknowledgement is larger than %d bytes", MaxErasureAckBytes)
	}
	var a ErasureAck
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, Errorf(CodeMalformedJSON, "decode erasure acknowledgement: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Errorf(CodeMalformedJSON, "decode erasure acknowledgement: trailing data")
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// DecodeErasureStatus reads and validates a status request body, reading at
// most MaxErasureStatusBytes of r.
func DecodeErasureStatus(r io.Reader) (*ErasureStatusRequest, error) {
	raw, err := io.ReadAll(io.LimitReader(r, MaxErasureStatusBytes+1))
	if err != nil {
		return nil, Errorf(CodeBadRequest, "read erasure status request: %v", err)
	}
	if len(raw) > MaxErasureStatusBytes {
		return nil, Errorf(CodeRecordTooLarge, "erasure status request is larger than %d bytes", MaxErasureStatusBytes)
	}
	var q ErasureStatusRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return nil, Errorf(CodeMalformedJSON, "decode erasure status request: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Errorf(CodeMalformedJSON, "decode erasure status request: trailing data")
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return &q, nil
}

// Validate checks the request: 1 to MaxErasureStatusIDs entity ids, none
// twice, and a group of at most MaxErasureGroup lowercase letters, digits
// and hyphens, or none.
func (q *ErasureStatusRequest) Validate() error {
	v := &fieldErrors{}
	if len(q.Group) > MaxErasureGroup {
		v.add("group", "%d bytes, limit %d", len(q.Group), MaxErasureGroup)
	} else if strings.Trim(q.Group, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		v.add("group", "only lowercase letters, digits and hyphens")
	}
	switch {
	case len(q.IDs) == 0:
		v.add("ids", "required: at least one entity id")
	case len(q.IDs) > MaxErasureStatusIDs:
		v.add("ids", "%d entries, limit %d", len(q.IDs), MaxErasureStatusIDs)
	default:
		seen := make(map[string]bool, len(q.IDs))
		for i, id := range q.IDs {
			if _, err := SplitEntityID(id); err != nil {
				v.add(fmt.Sprintf("ids[%d]", i), "%v", err)
			} else if seen[id] {
				v.add(fmt.Sprintf("ids[%d]", i), "%s is listed twice", id)
			}
			seen[id] = true
		}
	}
	return v.err()
}

// Validate checks the acknowledgement: 1 to MaxErasureAcks hub_seqs, each
// at least 1, none twice.
func (a *ErasureAck) Validate() error {
	v := &fieldErrors{}
	switch {
	case len(a.HubSeqs) == 0:
		v.add("hub_seqs", "required: at least one hub_seq")
	case len(a.HubSeqs) > MaxErasureAcks:
		v.add("hub_seqs", "%d entries, limit %d", len(a.HubSeqs), MaxErasureAcks)
	default:
		seen := make(map[int64]bool, len(a.HubSeqs))
		for i, s := range a.HubSeqs {
			if s < 1 {
				v.add(fmt.Sprintf("hub_seqs[%d]", i), "must be at least 1")
			} else if seen[s] {
				v.add(fmt.Sprintf("hub_seqs[%d]", i), "%d is listed twice", s)
			}
			seen[s] = true
		}
	}
	return v.err()
}

// ValidErasureReason checks the coordination team's reason for erasing an
// entity: required text of at most MaxErasureReason bytes, without control
// characters, since it is shown in the status and kept in the hub's records.
func ValidErasureReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return Errorf(CodeInvalidField, "reason: required")
	}
	if len(reason) > MaxErasureReason {
		return Errorf(CodeInvalidField, "reason: %d bytes, limit %d", len(reason), MaxErasureReason)
	}
	for _, r := range reason {
		if r < 0x20 || r == 0x7f {
			return Errorf(CodeInvalidField, "reason: control characters are not allowed")
		}
	}
	if !utf8.ValidString(reason) {
		return Errorf(CodeInvalidField, "reason: not valid UTF-8")
	}
	return nil
}

// IsHubErasure reports whether c is an erasure the hub signed for an entity
// of another owner: the one change a key may sign for an entity its owner
// does not hold (§17). Its validity as a change is checked by Validate.
func (c *Change) IsHubErasure() bool {
	return c.Owner != HubID && c.Erased && c.Deleted && strings.HasPrefix(c.KeyID, HubID+"-")
}
