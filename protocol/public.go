package protocol

import "time"

// What "public" means is defined here, once. The hub's feed for public
// holders (mirrors) passes exactly the changes for which Public holds, and a
// portal index, whether the hub's or a mirror's, shows exactly the entities
// for which ShownAt holds (a translation only while its resource is shown
// too). The portal's pages, its JSON API and its public files are all served
// from that index, so no surface can show what another hides.
//
// Moderation does not enter into it: decisions are never public, and the hub
// refuses a decision about a public entity, so what is public never depends
// on a record that a public holder does not get.

// Public reports whether the change's visibility is public: it may leave the
// hub for holders of public content only, and a portal may index it. A
// deletion or an erasure of a public entity is public too, so that every
// holder of the entity learns it is gone.
func (c *Change) Public() bool { return c.Visibility.Public() }

// Public reports whether the visibility is public: the column the hub keeps
// of a change's visibility is read through this, so the hub's selection for
// public holders and Change.Public agree.
func (v Visibility) Public() bool { return v == VisibilityPublic }

// ShownAt reports whether a public surface shows the change at now: it is
// public, not deleted, and due (no publish_at, or one not after now). A
// translation is shown only while its resource is shown as well; that needs
// the resource, so the portal's index applies it, with ShownAt on both.
func (c *Change) ShownAt(now time.Time) bool {
	return c.Public() && !c.Deleted && (c.PublishAt == nil || !c.PublishAt.After(now))
}
