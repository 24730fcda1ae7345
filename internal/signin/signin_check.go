package signin

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/httplimit"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/web"
)

func (h *Handler) checkSignIn(w http.ResponseWriter, r *http.Request) {
	f, err := parseSignIn(r)
	if err != nil {
		h.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	p := web.Printer(r)
	page := h.signInPage(web.SafeNext(f.Next))
	page.Email = f.Email

	tok, pending, m, err := h.passwordStep(r.Context(), account.Credentials{
		Email: f.Email, Password: f.Password, Address: h.addr(r), UserAgent: r.UserAgent()})
	var throttled *account.ThrottledError
	switch {
	case errors.As(err, &throttled):
		w.Header().Set("Retry-After", strconv.Itoa(httplimit.RetryAfterSeconds(throttled.RetryAfter)))
		page.Error = p.T("signin.error.throttled", "when", p.In(throttled.RetryAfter))
		h.pages.Render(w, r, http.StatusTooManyRequests, "signin", page)
		return
	case errors.Is(err, account.ErrInvalidCredentials):
		page.Error = p.T("signin.error.wrong_credentials")
		h.pages.Render(w, r, http.StatusOK, "signin", page)
		return
	case err != nil:
		h.log.Error("sign in", "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	case pending != "":
		http.SetCookie(w, h.passkeys.PendingCookie(pending))
		h.log.Info("password accepted, passkey needed", "member", m.ID)
		http.Redirect(w, r, h.confirmURL(f.Next), http.StatusSeeOther)
		return
	}
	// A session open in this browser before (someone else's, on a shared
	// computer) ends now rather than lingering behind the new cookie.
	if _, old, ok := web.Session(r); ok {
		if err := h.store.SignOut(r.Context(), old, h.addr(r)); err != nil {
			h.log.Error("end the previous session", "err", err)
		}
	}
	http.SetCookie(w, h.store.Cookie(tok, h.site.Config().Secure))
	h.log.Info("signed in", "member", m.ID)
	http.Redirect(w, r, h.home(f.Next), http.StatusSeeOther)
}

// passwordStep checks the password and starts a session, whose token it
// returns; or, when the member's role asks for a passkey as well, a pending
// sign-in, whose token it returns instead.
func (h *Handler) passwordStep(ctx context.Context, c account.Credentials) (tok, pending string, m account.Member, err error) {
	if h.keys == nil {
		tok, _, m, err = h.store.SignIn(ctx, c)
		return tok, "", m, err
	}
	required, err := h.keys.RequiredRoles(ctx)
	if err != nil {
		return "", "", account.Member{}, err
	}
	if len(required) == 0 {
		tok, _, m, err = h.store.SignIn(ctx, c)
		return tok, "", m, err
	}
	if m, err = h.store.CheckSignIn(ctx, c); err != nil {
		return "", "", account.Member{}, err
	}
	if passkey.Required(m.Roles, required) {
		pending, err = h.keys.StartPending(ctx, m.ID)
		return "", pending, m, err
	}
	tok, _, err = h.store.StartSessionVia(ctx, m.ID, "password", c.UserAgent, c.Address)
	if errors.Is(err, account.ErrDisabled) || errors.Is(err, account.ErrNotFound) {
		// Disabled or removed since the password was checked.
		err = account.ErrInvalidCredentials
	}
	return tok, "", m, err
}
