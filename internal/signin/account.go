package signin

import (
	"net/http"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/web"
)

type accountPage struct {
	Action   string
	Member   account.Member
	Sessions []sessionView
}

type sessionView struct {
	Started          time.Time
	LastUsed         time.Duration // ago
	Browser, Address string
	This             bool
}

// Account returns the handler of a member's own account page, which the
// caller mounts where it likes ("/account"): who they are, the browsers
// signed in as them, and a form to sign out of all of them. It runs behind
// the site's middleware and sends visitors to sign in.
func (h *Handler) Account() http.Handler {
	return h.site.RequireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			h.showAccount(w, r)
		case http.MethodPost:
			h.signOutEverywhere(w, r)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			h.site.Error(w, r, http.StatusBadRequest, "")
		}
	}))
}

func (h *Handler) showAccount(w http.ResponseWriter, r *http.Request) {
	m, _ := web.Member(r)
	current, _, _ := web.Session(r)
	sessions, err := h.store.Sessions(r.Context(), m.ID)
	if err != nil {
		h.log.Error("list sessions", "member", m.ID, "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	page := accountPage{Action: r.URL.Path, Member: m}
	for _, s := range sessions {
		page.Sessions = append(page.Sessions, sessionView{Started: s.CreatedAt, LastUsed: time.Since(s.LastSeenAt),
			Browser: s.UserAgent, Address: s.Address, This: s.ID == current.ID})
	}
	h.pages.RenderIn(w, r, http.StatusOK, "account", "account", page)
}

// signOutEverywhere ends every session of the member, this one included.
func (h *Handler) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	m, _ := web.Member(r)
	if err := h.store.SignOutEverywhere(r.Context(), account.MemberActor(m.ID), m.ID, h.addr(r)); err != nil {
		h.log.Error("sign out everywhere", "member", m.ID, "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	http.SetCookie(w, h.store.ClearCookie(h.site.Config().Secure))
	http.Redirect(w, r, h.cfg.Prefix+"?done=everywhere", http.StatusSeeOther)
}
