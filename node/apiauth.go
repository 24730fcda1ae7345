package node

import (
	"context"
	"errors"
	"net/http"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/protocol"
)

// The admin API answers scripts holding the node's admin token and the
// workspace's own pages acting for a signed-in member. A member reaches an
// endpoint only with one of its roles; a state change carried by a session
// cookie must also come from the node's own origin, since a browser sends
// that cookie along with any site's request.

type callerKey struct{}

// caller is who sends an admin API request: the token, or a member.
type caller struct {
	member *account.Member
}

// apiCaller returns who sent r, once it has passed auth.
func apiCaller(r *http.Request) caller {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c
}

// apiActor names the caller of r in the audit log.
func apiActor(r *http.Request) string {
	if c := apiCaller(r); c.member != nil {
		return account.MemberActor(c.member.ID)
	}
	return actorAdminToken
}

// apiRolesContent are the roles that may author and sync through the API.
var apiRolesContent = []string{RoleEditor, RoleAdmin}

// auth admits the admin token, or a member holding an editor's or an
// admin's role.
func (n *Node) auth(h http.HandlerFunc) http.HandlerFunc {
	return n.authAs(apiRolesContent...)(h)
}

// authAs admits the admin token, or a member holding one of roles.
func (n *Node) authAs(roles ...string) func(http.HandlerFunc) http.HandlerFunc {
	return func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if n.authorised(r) {
				h(w, r)
				return
			}
			m, err := n.sessionMember(r)
			switch {
			case errors.Is(err, account.ErrNoSession):
				w.Header().Set("WWW-Authenticate", `Bearer realm="bikfed-node"`)
				writeAPIError(w, http.StatusUnauthorized, APIError{Code: protocol.CodeUnauthorized,
					Message: "admin token or a signed-in member required"})
				return
			case err != nil:
				n.writeError(w, r, err)
				return
			}
			if err := n.apiOrigin.Check(r); err != nil {
				writeAPIError(w, http.StatusForbidden, APIError{Code: protocol.CodeForbidden,
					Message: "a signed-in member's change must come from the node's own pages"})
				return
			}
			if !m.HasAnyRole(roles...) {
				writeAPIError(w, http.StatusForbidden, APIError{Code: protocol.CodeForbidden,
					Message: "your roles do not allow this"})
				return
			}
			h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller{member: &m})))
		}
	}
}

// sessionMember returns the member whose live session cookie r carries,
// or account.ErrNoSession.
func (n *Node) sessionMember(r *http.Request) (account.Member, error) {
	for _, secure := range []bool{true, false} {
		c, err := r.Cookie(n.accounts.CookieName(secure))
		if err != nil || c.Value == "" {
			continue
		}
		_, m, err := n.accounts.Lookup(r.Context(), c.Value)
		if errors.Is(err, account.ErrNoSession) {
			continue
		}
		return m, err
	}
	return account.Member{}, account.ErrNoSession
}
