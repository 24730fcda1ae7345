package signin

import (
	"embed"
	"net/http"

	"github.com/bikfed/bikfed/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// signInPage is what the sign-in form shows.
type signInPage struct {
	Action, Forgot string
	Email, Next    string
	Error, Notice  string
	// SSO is the single sign-on button, if the server offers it.
	SSO *oidcButton
	// Passkey is the passkey sign-in form, if the server offers it.
	Passkey *ceremonyForm
}

// ceremonyForm is a form the passkey script drives: it begins the ceremony
// at Begin and posts the browser's answer to Finish.
type ceremonyForm struct {
	Begin, Finish string
}

// notices are the messages the sign-in page shows after another page sent
// a person there; the query names one by key, never carries text.
var notices = map[string]string{
	"signout":    "signout.done",
	"invite":     "setpassword.done",
	"reset":      "reset.done",
	"everywhere": "account.signout_everywhere.done",
	"ended":      "signin.error.session_ended",
	"pending":    "passkey.confirm.expired",
}

func (h *Handler) showSignIn(w http.ResponseWriter, r *http.Request) {
	next := web.SafeNext(r.URL.Query().Get("next"))
	if _, ok := web.Member(r); ok {
		http.Redirect(w, r, h.home(next), http.StatusSeeOther)
		return
	}
	page := h.signInPage(next)
	if id, ok := notices[r.URL.Query().Get("done")]; ok {
		page.Notice = web.Printer(r).T(id)
	}
	h.pages.Render(w, r, http.StatusOK, "signin", page)
}

func (h *Handler) signInPage(next string) signInPage {
	page := signInPage{Action: h.cfg.Prefix, Forgot: h.cfg.Prefix + "/forgot", Next: next}
	if h.oidc != nil {
		page.SSO = &oidcButton{Href: h.oidcStartURL(next), Name: h.oidc.cfg.DisplayName}
	}
	if h.passkeys != nil {
		page.Passkey = h.ceremony("login")
	}
	return page
}

// home is where a signed-in member goes: next when it is a local path,
// the site's home otherwise.
func (h *Handler) home(next string) string {
	if next = web.SafeNext(next); next != "" {
		return next
	}
	return h.site.Config().Home
}

// ceremony returns the addresses of a passkey ceremony ("login", "second",
// "enrol", "register").
func (h *Handler) ceremony(kind string) *ceremonyForm {
	base := h.passkeys.Prefix() + "/" + kind
	return &ceremonyForm{Begin: base + "/begin", Finish: base + "/finish"}
}
