package node

import (
	"slices"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// Who reads which space (docs/community.md, "Spaces and authors"). The
// node's members are its SIC's people: its staff and admins read and write
// the Communities of Practice and the blog (an editor who is not also
// staff edits the SIC's resources, not the community); young people read
// only the youth spaces; a youth coordinator reads both, as the bridge
// between the two. A national youth space is its own SIC's: no other node
// holds it, and here too only the youth roles open it.

// staffRoles read the staff spaces.
var staffRoles = []string{RoleStaff, RoleAdmin, RoleYouthCoordinator}

// youthRoles read the youth spaces.
var youthRoles = []string{RoleYouth, RoleYouthCoordinator}

// ReadableSpaces returns the spaces m, a member of node nodeID, may read,
// in the order of protocol.Spaces with the node's national youth space
// after the European one. News is the public portal's, not a space of the
// workspace. A disabled member reads none.
func ReadableSpaces(m account.Member, nodeID string) []string {
	if m.Status == account.StatusDisabled {
		return nil
	}
	var out []string
	for _, s := range protocol.Spaces {
		switch {
		case s == protocol.SpaceNews:
		case protocol.IsYouthSpace(s):
			if m.HasAnyRole(youthRoles...) {
				out = append(out, s, protocol.NationalYouthSpace(nodeID))
			}
		case m.HasAnyRole(staffRoles...):
			out = append(out, s)
		}
	}
	return out
}

// CanRead reports whether m, a member of node nodeID, may read space.
func CanRead(m account.Member, nodeID, space string) bool {
	return slices.Contains(ReadableSpaces(m, nodeID), space)
}

// HeldForApproval reports whether what m writes in space waits for a youth
// coordinator: a young person's posts and comments do, everywhere they
// may write.
func HeldForApproval(m account.Member) bool {
	return m.HasRole(RoleYouth) && !m.HasRole(RoleYouthCoordinator)
}
