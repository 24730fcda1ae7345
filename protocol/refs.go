package protocol

import (
	"encoding/json"
	"time"
)

// Target is what a holder knows of the entity a comment's post or a
// translation's resource names: its latest version as stored.
type Target struct {
	Kind       Kind
	Version    int64
	Visibility Visibility
	Deleted    bool
	PublishAt  *time.Time
	// Space is a post's space, when the holder knows it.
	Space string
}

// CheckReference applies the rules between a comment, a flag or a
// translation and the entity its body names (§4), which validation of the change alone
// cannot see: a comment has its post's visibility, and one on a post of a
// national youth space is its SIC's own; a flag names a live post or
// comment, has its visibility, and stays with a national youth space's SIC
// like a comment; a translation has its
// resource's, and names a resource that exists, is not deleted, is
// published at now (or the translation is embargoed until it is), at a
// version it has reached. t is nil when the holder
// has no such entity. Other kinds, and deletions, pass.
func CheckReference(c *Change, t *Target, now time.Time) *Error {
	if c.Deleted {
		return nil
	}
	switch c.Kind {
	case KindComment:
		// A post this holder has not seen yet cannot be compared; the one
		// that has it checks.
		if t == nil || t.Kind != KindPost {
			return nil
		}
		if c.Visibility != t.Visibility {
			return Errorf(CodeVisibilityMismatch, "visibility %s: a comment has its post's visibility, %s", c.Visibility, t.Visibility)
		}
		if sic, ok := NationalYouthSIC(t.Space); ok && c.Owner != sic {
			return Errorf(CodeInvalidSpace, "its post is in %s, the national youth space of %s: only %s comments there", t.Space, sic, sic)
		}
	case KindFlag:
		// A holder that has not seen the target yet cannot compare; the
		// hub, which has every shared entity, does.
		if t == nil {
			return nil
		}
		if t.Kind != KindPost && t.Kind != KindComment {
			return Errorf(CodeInvalidSource, "a flag names a post or a comment, not a %s", t.Kind)
		}
		if t.Deleted {
			return Errorf(CodeInvalidSource, "the flagged %s is deleted", t.Kind)
		}
		if c.Visibility != t.Visibility {
			return Errorf(CodeVisibilityMismatch, "visibility %s: a flag has its target's visibility, %s", c.Visibility, t.Visibility)
		}
		if sic, ok := NationalYouthSIC(t.Space); ok && c.Owner != sic {
			return Errorf(CodeInvalidSpace, "its target is in %s, the national youth space of %s: only %s flags there", t.Space, sic, sic)
		}
	case KindTranslation:
		var body struct {
			Resource      string `json:"resource"`
			SourceVersion int64  `json:"source_version"`
		}
		if err := json.Unmarshal(c.Body, &body); err != nil {
			return Errorf(CodeInvalidField, "body: %v", err)
		}
		switch {
		case t == nil:
			return Errorf(CodeInvalidSource, "resource %s does not exist", body.Resource)
		case t.Kind != KindResource:
			return Errorf(CodeInvalidSource, "%s is a %s, not a resource", body.Resource, t.Kind)
		case t.Deleted:
			return Errorf(CodeInvalidSource, "resource %s is deleted", body.Resource)
		case t.PublishAt != nil && t.PublishAt.After(now) && (c.PublishAt == nil || c.PublishAt.Before(*t.PublishAt)):
			// Embargoed until the resource is out, a translation reveals
			// nothing early: a launch can be prepared in every language.
			return Errorf(CodeInvalidSource, "resource %s is not published until %s", body.Resource, t.PublishAt.UTC().Format(time.RFC3339))
		case body.SourceVersion > t.Version:
			return Errorf(CodeInvalidSource, "source_version %d: resource %s is at version %d", body.SourceVersion, body.Resource, t.Version)
		case c.Visibility != t.Visibility:
			return Errorf(CodeVisibilityMismatch, "visibility %s: a translation has its resource's visibility, %s", c.Visibility, t.Visibility)
		}
	}
	return nil
}
