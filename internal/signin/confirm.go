package signin

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/web"
)

// confirmPage is the second step of a sign-in whose password was accepted
// and whose member's role asks for a passkey as well: confirm with one of
// their passkeys or, for a member who has none yet, add the first.
type confirmPage struct {
	// Enrol is set for a member with no passkey yet.
	Enrol  bool
	Form   *ceremonyForm
	Cancel string
	Next   string
}

func (h *Handler) confirmURL(next string) string {
	u := h.cfg.Prefix + "/confirm"
	if next = web.SafeNext(next); next != "" {
		u += "?next=" + url.QueryEscape(next)
	}
	return u
}

func (h *Handler) showConfirm(w http.ResponseWriter, r *http.Request) {
	next := web.SafeNext(r.URL.Query().Get("next"))
	member, err := h.keys.Pending(r.Context(), h.passkeys.PendingToken(r))
	if errors.Is(err, passkey.ErrNoPending) {
		// Expired, cancelled, finished, or never begun: the sign-in
		// starts again, from the password.
		http.SetCookie(w, h.passkeys.PendingCookie(""))
		u := h.cfg.Prefix + "?done=pending"
		if next != "" {
			u += "&next=" + url.QueryEscape(next)
		}
		http.Redirect(w, r, u, http.StatusSeeOther)
		return
	}
	if err != nil {
		h.log.Error("look up pending sign-in", "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	has, err := h.keys.Has(r.Context(), member)
	if err != nil {
		h.log.Error("look up passkeys", "member", member, "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	page := confirmPage{Enrol: !has, Cancel: r.URL.Path, Next: next, Form: h.ceremony("second")}
	if page.Enrol {
		page.Form = h.ceremony("enrol")
	}
	h.pages.Render(w, r, http.StatusOK, "confirm", page)
}

// cancelConfirm gives up a pending sign-in, for a member who cannot use a
// passkey here, and goes back to the sign-in page.
func (h *Handler) cancelConfirm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	if err := h.keys.CancelPending(r.Context(), h.passkeys.PendingToken(r)); err != nil {
		h.log.Error("cancel pending sign-in", "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	http.SetCookie(w, h.passkeys.PendingCookie(""))
	u := h.cfg.Prefix
	if next := web.SafeNext(field(r, "next", 2048)); next != "" {
		u += "?next=" + url.QueryEscape(next)
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}
