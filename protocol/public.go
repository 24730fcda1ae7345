package protocol

// Public reports whether the visibility lets an entity leave the hub for
// public holders (mirrors) and be indexed by a portal.
func (v Visibility) Public() bool { return v == VisibilityPublic }

// Public reports whether the change may leave the hub for public holders
// (mirrors) and be indexed by a portal: its visibility is public.
func (c *Change) Public() bool { return c.Visibility.Public() }
