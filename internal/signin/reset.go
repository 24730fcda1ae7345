package signin

import (
	"net/http"

	"github.com/bikfed/bikfed/internal/account"
)

func (h *Handler) resetPage() passwordPage {
	return passwordPage{Title: "reset.title", Intro: "reset.intro", Action: h.cfg.Prefix + "/reset",
		AskAgain: h.cfg.Prefix + "/forgot"}
}

// showReset shows the form for a new password, or why the link cannot be
// used.
func (h *Handler) showReset(w http.ResponseWriter, r *http.Request) {
	h.resetPassword(w, r)
}

// resetPassword sets a new password with a reset link, which also ends
// every session the member had.
func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request) {
	h.usePasswordLink(w, r, account.LinkReset, h.resetPage(), func(token, password string) error {
		_, err := h.store.ResetPassword(r.Context(), token, password, h.addr(r))
		return err
	}, "reset")
}
