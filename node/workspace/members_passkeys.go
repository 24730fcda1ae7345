package workspace

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
)

// pathMembersPasskeys sets which roles must confirm their sign-in with a
// passkey.
const pathMembersPasskeys = PathMembers + "passkeys"

// passkeyPolicy is the per-role passkey policy, as passkey.Service keeps
// it.
type passkeyPolicy interface {
	RequiredRoles(ctx context.Context) (map[string]bool, error)
	SetRequiredRoles(ctx context.Context, actor string, roles []string) error
}

var _ passkeyPolicy = (*passkey.Service)(nil)

func (ws *Workspace) mountPasskeyPolicy() {
	ws.handle("POST "+pathMembersPasskeys, ws.setPasskeyPolicy, rolesMembers...)
}

// passkeyChoices are the roles' checkboxes of the policy form, nil where
// members have no passkeys.
func (ws *Workspace) passkeyChoices(r *http.Request) ([]roleChoice, error) {
	if ws.passkeys == nil {
		return nil, nil
	}
	required, err := ws.passkeys.RequiredRoles(r.Context())
	if err != nil {
		return nil, err
	}
	out := roleChoices(nil)
	for i := range out {
		out[i].Checked = required[out[i].Role]
	}
	return out, nil
}

// setPasskeyPolicy replaces the roles whose members must confirm their
// password with a passkey. It takes effect at each member's next sign-in;
// sessions already open stay.
func (ws *Workspace) setPasskeyPolicy(w http.ResponseWriter, r *http.Request) {
	if ws.passkeys == nil {
		ws.site.NotFound(w, r)
		return
	}
	_, who := actor(r)
	var roles []string
	for _, role := range r.PostForm["passkey_role"] {
		if slices.Contains(node.Roles, role) && !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	if err := ws.passkeys.SetRequiredRoles(r.Context(), who, roles); err != nil {
		if errors.Is(err, passkey.ErrInvalidRole) {
			ws.site.Error(w, r, http.StatusBadRequest, "")
			return
		}
		ws.fail(w, r, "set passkey policy", err)
		return
	}
	m, _ := web.Member(r)
	ws.log.Info("passkey policy changed", "by", m.ID, "roles", roles)
	http.Redirect(w, r, PathMembers+"?done=passkeys", http.StatusSeeOther)
}
