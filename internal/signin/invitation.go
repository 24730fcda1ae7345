package signin

import (
	"net/http"

	"github.com/bikfed/bikfed/internal/account"
)

func (h *Handler) invitationPage() passwordPage {
	return passwordPage{Title: "setpassword.title", Intro: "invitation.intro", Action: h.cfg.Prefix + "/invite"}
}

// showInvitation shows the form for a first password, or why the link
// cannot be used.
func (h *Handler) showInvitation(w http.ResponseWriter, r *http.Request) {
	h.acceptInvitation(w, r)
}

// acceptInvitation sets an invited member's first password; they then sign
// in with it.
func (h *Handler) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	h.usePasswordLink(w, r, account.LinkInvite, h.invitationPage(), func(token, password string) error {
		_, err := h.store.Accept(r.Context(), token, password, h.addr(r))
		return err
	}, "invite")
}
