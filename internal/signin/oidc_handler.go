package signin

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/httplimit"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/web"
)

// oidcButton is the single sign-on button on the sign-in page. It is a
// link rather than a form: the page's Content-Security-Policy allows forms
// to lead only to the site itself, and browsers apply that to the redirect
// to the provider as well.
type oidcButton struct {
	Href, Name string
}

func (h *Handler) flowCookieName() string {
	return h.store.CookieName(h.site.Config().Secure) + "-oidc"
}

// flowCookie holds a sign-in under way. It is for the whole site, as the
// __Host- prefix of a secure cookie requires, and SameSite=Lax, so that the
// browser sends it on the provider's redirect back, a top-level GET.
func (h *Handler) flowCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: h.flowCookieName(), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: h.site.Config().Secure, SameSite: http.SameSiteLaxMode}
}

// oidcStart sends the browser to the provider, with a fresh state, nonce
// and PKCE verifier that only this browser's cookie knows.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if len(next) > 2048 {
		next = ""
	}
	next = web.SafeNext(next)
	if wait := h.store.SignInWait(h.addr(r)); wait > 0 {
		h.oidcThrottled(w, r, h.signInPage(next), wait)
		return
	}
	p, err := h.oidc.discover(r.Context())
	if err != nil {
		h.log.Error("single sign-on: provider unreachable", "err", err)
		h.oidcRender(w, r, http.StatusBadGateway, h.signInPage(next), "signin.oidc.error.failed")
		return
	}
	f := flow{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: next}
	http.SetCookie(w, h.flowCookie(f.encode(), int(flowTTL/time.Second)))
	http.Redirect(w, r, h.oidc.oauth2(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)),
		http.StatusSeeOther)
}

// oidcCallback finishes a sign-in the provider sends back: it checks that
// the answer belongs to the sign-in this browser started, gets and checks
// the ID token, and signs in the active member with the provider's verified
// email. The member's roles are this server's; the provider's claims
// decide nothing but who the person is.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	addr := h.addr(r)
	page := h.signInPage("")
	if wait := h.store.SignInWait(addr); wait > 0 {
		h.oidcThrottled(w, r, page, wait)
		return
	}
	// The cookie is spent whatever happens: a state is good for one try.
	f, ok := h.readFlow(r)
	http.SetCookie(w, h.flowCookie("", -1))
	refuse := func(msg string, member int64, detail string) {
		if err := h.store.FailSignIn(r.Context(), account.SignInFailure{MemberID: member, Address: addr,
			Method: "oidc", Detail: detail}); err != nil {
			h.log.Error("single sign-on: record refusal", "err", err)
		}
		h.log.Info("single sign-on refused", "member", member, "why", detail)
		h.oidcRender(w, r, http.StatusForbidden, page, msg)
	}
	q := r.URL.Query()
	if state := q.Get("state"); !ok || subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1 {
		refuse("signin.oidc.error.failed", 0, errFlowState.Error())
		return
	}
	page.Next = web.SafeNext(f.Next)
	if e := q.Get("error"); e != "" {
		refuse("signin.oidc.error.failed", 0, "provider answered "+clipText(e, 100))
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > maxCode {
		refuse("signin.oidc.error.failed", 0, "no usable code")
		return
	}
	p, err := h.oidc.discover(r.Context())
	if err != nil {
		h.log.Error("single sign-on: provider unreachable", "err", err)
		h.oidcRender(w, r, http.StatusBadGateway, page, "signin.oidc.error.failed")
		return
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), h.oidc.client), 2*h.oidc.cfg.Timeout)
	defer cancel()
	tok, err := h.oidc.oauth2(p).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		refuse("signin.oidc.error.failed", 0, "code exchange: "+clipText(err.Error(), 200))
		return
	}
	id, err := h.oidc.identify(ctx, p, tok, f.Nonce)
	switch {
	case err != nil:
		refuse("signin.oidc.error.failed", 0, clipText(err.Error(), 200))
		return
	case id.Email == "":
		refuse("signin.oidc.error.failed", 0, errNoEmail.Error())
		return
	case !id.Verified:
		refuse("signin.oidc.error.unverified", 0, errUnverified.Error()+": "+clipText(id.Email, maxEmail))
		return
	}
	m, err := h.store.GetByEmail(r.Context(), id.Email)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		h.log.Error("single sign-on: look up member", "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	if err != nil || m.Status != account.StatusActive {
		refuse("signin.oidc.error.unknown", m.ID, errUnknownUser.Error()+": "+clipText(id.Email, maxEmail))
		return
	}
	// The provider proves who the person is, not that they hold the
	// passkey their role asks for: that step follows as after a password.
	if pending, err := h.oidcPending(r, m); err != nil {
		h.log.Error("single sign-on: passkey policy", "member", m.ID, "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	} else if pending != "" {
		http.SetCookie(w, h.passkeys.PendingCookie(pending))
		h.log.Info("identified by single sign-on, passkey needed", "member", m.ID)
		http.Redirect(w, r, h.confirmURL(f.Next), http.StatusSeeOther)
		return
	}
	session, _, err := h.store.StartSessionVia(r.Context(), m.ID, "oidc", r.UserAgent(), addr)
	if errors.Is(err, account.ErrDisabled) || errors.Is(err, account.ErrNotFound) {
		refuse("signin.oidc.error.unknown", m.ID, errUnknownUser.Error())
		return
	}
	if err != nil {
		h.log.Error("single sign-on: start session", "member", m.ID, "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	if _, old, ok := web.Session(r); ok {
		if err := h.store.SignOut(r.Context(), old, addr); err != nil {
			h.log.Error("end the previous session", "err", err)
		}
	}
	http.SetCookie(w, h.store.Cookie(session, h.site.Config().Secure))
	h.log.Info("signed in", "member", m.ID, "method", "oidc")
	http.Redirect(w, r, h.home(f.Next), http.StatusSeeOther)
}

func (h *Handler) readFlow(r *http.Request) (flow, bool) {
	c, err := r.Cookie(h.flowCookieName())
	if err != nil {
		return flow{}, false
	}
	return parseFlow(c.Value)
}

func (h *Handler) oidcRender(w http.ResponseWriter, r *http.Request, status int, page signInPage, msg string) {
	page.Error = web.Printer(r).T(msg)
	h.pages.Render(w, r, status, "signin", page)
}

func (h *Handler) oidcThrottled(w http.ResponseWriter, r *http.Request, page signInPage, wait time.Duration) {
	p := web.Printer(r)
	w.Header().Set("Retry-After", strconv.Itoa(httplimit.RetryAfterSeconds(wait)))
	page.Error = p.T("signin.error.throttled", "when", p.In(wait))
	h.pages.Render(w, r, http.StatusTooManyRequests, "signin", page)
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// oidcStartURL is where the sign-in page's single sign-on button goes,
// carrying on where to go after.
func (h *Handler) oidcStartURL(next string) string {
	u := h.cfg.Prefix + "/oidc/start"
	if next != "" {
		u += "?next=" + url.QueryEscape(next)
	}
	return u
}

// defaultDisplayName names a provider by its issuer's host.
func defaultDisplayName(issuer string) string {
	if u, err := url.Parse(issuer); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return issuer
}

// oidcPending starts a pending sign-in for a member identified by single
// sign-on whose role asks for a passkey, and returns its token; "" when
// no passkey is needed.
func (h *Handler) oidcPending(r *http.Request, m account.Member) (string, error) {
	if h.keys == nil {
		return "", nil
	}
	required, err := h.keys.RequiredRoles(r.Context())
	if err != nil || !passkey.Required(m.Roles, required) {
		return "", err
	}
	return h.keys.StartPendingVia(r.Context(), m.ID, "oidc")
}
