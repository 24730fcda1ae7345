package signin

import (
	"net/http"

	"github.com/bikfed/bikfed/internal/web"
)

// signOut ends the browser's session. The form token the site's middleware
// checks keeps another site from signing a member out.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	if _, tok, ok := web.Session(r); ok {
		if err := h.store.SignOut(r.Context(), tok, h.addr(r)); err != nil {
			h.log.Error("sign out", "err", err)
			h.site.Error(w, r, http.StatusInternalServerError, "")
			return
		}
	}
	http.SetCookie(w, h.store.ClearCookie(h.site.Config().Secure))
	http.Redirect(w, r, h.cfg.Prefix+"?done=signout", http.StatusSeeOther)
}
