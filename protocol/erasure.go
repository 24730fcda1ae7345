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
)

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
