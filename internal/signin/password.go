package signin

import (
	"errors"
	"net/http"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
)

// passwordPage is the form that sets a password from a link: an
// invitation's first one or a reset's new one.
type passwordPage struct {
	Title, Intro string // message ids
	Action       string
	Token        string
	// LinkError, when set, replaces the form: the link cannot be used.
	LinkError string
	AskAgain  string // where to get a new link, if anywhere
	// Error is about the password, ConfirmError about the repetition.
	Error, ConfirmError string
	Min, Max            int
}

// linkMessages are the messages for a link that cannot be used, by kind.
var linkMessages = map[account.LinkKind]map[error]string{
	account.LinkInvite: {
		account.ErrTokenUnknown: "invitation.error.unknown",
		account.ErrTokenExpired: "invitation.error.expired",
		account.ErrTokenUsed:    "invitation.error.used",
		account.ErrDisabled:     "invitation.error.unknown",
		account.ErrActive:       "invitation.error.used",
	},
	account.LinkReset: {
		account.ErrTokenUnknown: "reset.error.unknown",
		account.ErrTokenExpired: "reset.error.expired",
		account.ErrTokenUsed:    "reset.error.used",
		account.ErrDisabled:     "reset.error.unknown",
	},
}

// linkError returns the message for err if it says the link is unusable.
func linkError(kind account.LinkKind, err error) (string, bool) {
	for e, id := range linkMessages[kind] {
		if errors.Is(err, e) {
			return id, true
		}
	}
	return "", false
}

// passwordError words a refused password.
func passwordError(p *locale.Printer, err error) (string, bool) {
	var pe *account.PasswordError
	if !errors.As(err, &pe) {
		return "", false
	}
	switch pe.Rule {
	case account.RuleTooShort:
		return p.N("setpassword.error.too_short", pe.Min), true
	case account.RuleTooLong:
		return p.N("setpassword.error.too_long", pe.Max), true
	case account.RuleContainsEmail:
		return p.T("setpassword.error.contains_email"), true
	default:
		return p.T("setpassword.error.common"), true
	}
}

// usePasswordLink is the common part of accepting an invitation and
// resetting a password: a GET only checks the link, a POST spends it with
// the password it carries.
func (h *Handler) usePasswordLink(w http.ResponseWriter, r *http.Request, kind account.LinkKind, page passwordPage,
	use func(token, password string) error, done string) {
	p := web.Printer(r)
	page.Min, page.Max = h.minLen, h.maxLen
	post := r.Method == http.MethodPost
	token := r.URL.Query().Get("token")
	var f passwordForm
	if post {
		var err error
		if f, err = parsePassword(r); err != nil {
			h.site.Error(w, r, http.StatusBadRequest, "")
			return
		}
		token = f.Token
	}
	if len(token) > maxToken {
		token = ""
	}
	page.Token = token
	mismatch := post && f.Password != f.Confirm

	// The form is shown, or shown again for a repetition that differs,
	// only for a link that can still be used.
	var err error
	if post && !mismatch {
		err = use(token, f.Password)
	} else {
		_, err = h.store.CheckLink(r.Context(), kind, token)
		if err == nil && mismatch {
			page.ConfirmError = p.T("setpassword.error.mismatch")
			h.pages.Render(w, r, http.StatusUnprocessableEntity, "password", page)
			return
		}
		if err == nil {
			h.pages.Render(w, r, http.StatusOK, "password", page)
			return
		}
	}
	if id, dead := linkError(kind, err); dead {
		page.LinkError = p.T(id)
		h.pages.Render(w, r, http.StatusGone, "password", page)
		return
	}
	if err == nil {
		http.Redirect(w, r, h.cfg.Prefix+"?done="+done, http.StatusSeeOther)
		return
	}
	msg, ok := passwordError(p, err)
	if !ok {
		h.log.Error("use "+string(kind)+" link", "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	page.Error = msg
	h.pages.Render(w, r, http.StatusUnprocessableEntity, "password", page)
}
