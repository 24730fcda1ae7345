package signin

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/httplimit"
	"github.com/bikfed/bikfed/internal/web"
)

type accountPage struct {
	Action   string
	Member   account.Member
	Sessions []sessionView
	Notice   string
	// Alert says that something asked for could not be done.
	Alert string
	// The change-password form: an error about the current password, the
	// new one, or its repetition.
	CurrentError, NewError, ConfirmError string
	Min, Max                             int
	// Passkeys is the passkeys' part, when the server offers them.
	Passkeys *passkeysView
	// Links are the server's other account pages.
	Links []web.NavItem
}

// passkeysView lists the member's passkeys, with the form that adds one
// and, when asked for, the form that renames one.
type passkeysView struct {
	Items []passkeyView
	// Required is set when the member's role asks for a passkey after the
	// password.
	Required bool
	Add      *ceremonyForm
	// AddDone is where the script goes once a passkey is added.
	AddDone string
	Rename  *renameForm
}

type passkeyView struct {
	ID, Name           string
	Added, LastUsed    time.Time
	RenameHref, Remove string
}

type renameForm struct {
	ID, Name, Old, Error string
}

// removePage asks before a passkey is removed.
type removePage struct {
	Action, Cancel string
	ID, Name       string
	// Last is set when the passkey may not go: the member's role asks for
	// one and it is their only one.
	Last bool
}

// browserWords says which browser a session runs in, from its User-Agent:
// "Firefox on Windows", or the header itself, shortened, when it names
// neither.
func browserWords(t func(string, ...any) string, ua string) string {
	b, sys := browserOf(ua)
	switch {
	case b != "" && sys != "":
		return t("account.session.browser_on", "browser", b, "system", sys)
	case b != "":
		return b
	case sys != "":
		return sys
	}
	if r := []rune(ua); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return ua
}

type sessionView struct {
	Started          time.Time
	LastUsed         time.Duration // ago
	Browser, Address string
	This             bool
}

// accountNotices are the messages the account page shows after a change,
// named by key in the query.
var accountNotices = map[string]string{
	"password":        "account.password.done",
	"passkey-added":   "passkey.done.added",
	"passkey-renamed": "passkey.done.renamed",
	"passkey-removed": "passkey.done.removed",
}

// Account returns the handler of a member's own account page, which the
// caller mounts where it likes ("/account"): who they are, a form to change
// their password, the browsers signed in as them, and a form to sign out of
// all of them. It runs behind the site's middleware and sends visitors to
// sign in.
func (h *Handler) Account() http.Handler {
	return h.site.RequireSignIn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			page := accountPage{}
			if id, ok := accountNotices[r.URL.Query().Get("done")]; ok {
				page.Notice = web.Printer(r).T(id)
			}
			if h.keys != nil {
				q := r.URL.Query()
				if id := q.Get("remove"); id != "" {
					h.askRemovePasskey(w, r, id)
					return
				}
				if id := q.Get("rename"); id != "" {
					page.Passkeys = &passkeysView{Rename: &renameForm{ID: id}}
				}
			}
			h.showAccount(w, r, http.StatusOK, page)
		case http.MethodPost:
			if err := r.ParseForm(); err != nil {
				h.site.Error(w, r, http.StatusBadRequest, "")
				return
			}
			switch r.PostForm.Get("do") {
			case "password":
				h.changePassword(w, r)
			case "passkey-rename":
				if h.keys != nil {
					h.renamePasskey(w, r)
					return
				}
				h.site.Error(w, r, http.StatusBadRequest, "")
			case "passkey-remove":
				if h.keys != nil {
					h.removePasskey(w, r)
					return
				}
				h.site.Error(w, r, http.StatusBadRequest, "")
			default:
				h.signOutEverywhere(w, r)
			}
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			h.site.Error(w, r, http.StatusBadRequest, "")
		}
	}))
}

func (h *Handler) showAccount(w http.ResponseWriter, r *http.Request, status int, page accountPage) {
	m, _ := web.Member(r)
	current, _, _ := web.Session(r)
	sessions, err := h.store.Sessions(r.Context(), m.ID)
	if err != nil {
		h.log.Error("list sessions", "member", m.ID, "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	page.Action, page.Member, page.Min, page.Max = r.URL.Path, m, h.minLen, h.maxLen
	page.Links = h.cfg.AccountLinks
	pr := web.Printer(r)
	for _, s := range sessions {
		page.Sessions = append(page.Sessions, sessionView{Started: s.CreatedAt, LastUsed: time.Since(s.LastSeenAt),
			Browser: browserWords(pr.T, s.UserAgent), Address: s.Address, This: s.ID == current.ID})
	}
	if h.keys != nil {
		if err := h.fillPasskeys(r, &page); err != nil {
			h.log.Error("list passkeys", "member", m.ID, "err", err)
			h.site.Error(w, r, http.StatusInternalServerError, "")
			return
		}
	}
	h.pages.RenderIn(w, r, status, "account", "account", page)
}

// changePassword sets a new password after checking the current one; the
// member stays signed in here and is signed out everywhere else.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	m, _ := web.Member(r)
	sess, _, _ := web.Session(r)
	p := web.Printer(r)
	current := field(r, "current", maxPassword)
	next, confirm := field(r, "password", maxPassword), field(r, "confirm", maxPassword)
	var page accountPage
	if next != confirm {
		page.ConfirmError = p.T("setpassword.error.mismatch")
		h.showAccount(w, r, http.StatusUnprocessableEntity, page)
		return
	}
	err := h.store.ChangePassword(r.Context(), account.PasswordChange{MemberID: m.ID, Current: current, New: next,
		KeepSession: sess.ID, Address: h.addr(r)})
	var throttled *account.ThrottledError
	status := http.StatusUnprocessableEntity
	switch {
	case err == nil:
		h.log.Info("password changed", "member", m.ID)
		http.Redirect(w, r, r.URL.Path+"?done=password", http.StatusSeeOther)
		return
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", strconv.Itoa(httplimit.RetryAfterSeconds(throttled.RetryAfter)))
		page.CurrentError = p.T("signin.error.throttled", "when", p.In(throttled.RetryAfter))
		status = http.StatusTooManyRequests
	case errors.Is(err, account.ErrWrongPassword):
		page.CurrentError = p.T("account.password.error.current")
	default:
		msg, ok := passwordError(p, err)
		if !ok {
			h.log.Error("change password", "member", m.ID, "err", err)
			h.site.Error(w, r, http.StatusInternalServerError, "")
			return
		}
		page.NewError = msg
	}
	h.showAccount(w, r, status, page)
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
