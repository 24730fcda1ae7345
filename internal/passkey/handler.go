package passkey

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/httplimit"
	"github.com/bikfed/bikfed/internal/web"
)

//go:embed static/passkey.js
var script []byte

// Form fields the script posts. The answer travels as JSON inside a form
// field rather than as the whole body, so that the site's form-token check
// (web.Site.Protect), which reads forms, sees the token beside it.
const (
	fieldCredential = "credential"
	fieldName       = "name"
	fieldNext       = "next"
)

// HandlerConfig says where the ceremonies are served and how their cookies
// are named.
type HandlerConfig struct {
	// Prefix is the path the handler is mounted under ("/signin/passkey").
	Prefix string
	// Home is where a member goes after signing in when the page named no
	// next address.
	Home string
	// CookieName names the ceremony cookie; the pending sign-in's cookie
	// adds "-pending". Servers sharing a host need different names.
	CookieName string
	// ClientAddr returns the client's address behind a request, for the
	// session record and the rate limit. Default: the peer's address.
	ClientAddr func(*http.Request) netip.Addr
	// BeginRate and BeginBurst limit the ceremonies one client address may
	// begin, each of which is stored until it expires.
	BeginRate  float64
	BeginBurst int
	Log        *slog.Logger
}

// DefaultHandlerConfig returns the node's settings.
func DefaultHandlerConfig() HandlerConfig {
	return HandlerConfig{Prefix: "/signin/passkey", Home: "/", CookieName: "bikfed-passkey", BeginRate: 1, BeginBurst: 20}
}

// Validate reports every field that is wrong.
func (c HandlerConfig) Validate() error {
	var errs []error
	if web.SafeNext(c.Prefix) == "" || strings.HasSuffix(c.Prefix, "/") {
		errs = append(errs, fmt.Errorf("passkey: Prefix %q must be a local path without a trailing slash", c.Prefix))
	}
	if web.SafeNext(c.Home) == "" {
		errs = append(errs, fmt.Errorf("passkey: Home %q is not a local path", c.Home))
	}
	if c.CookieName == "" || len(c.CookieName) > 48 || strings.Trim(c.CookieName,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		errs = append(errs, fmt.Errorf("passkey: CookieName %q must be 1 to 48 letters, digits, '-' or '_'", c.CookieName))
	}
	if c.BeginRate <= 0 || c.BeginBurst <= 0 {
		errs = append(errs, errors.New("passkey: BeginRate and BeginBurst must be positive"))
	}
	return errors.Join(errs...)
}

// Handler serves the ceremonies as JSON, and the script that drives them:
//
//	POST {prefix}/register/begin    signed in: options for create()
//	POST {prefix}/register/finish   signed in: credential, name
//	POST {prefix}/login/begin       options for get()
//	POST {prefix}/login/finish      credential, next: signs in
//	POST {prefix}/second/begin      pending sign-in: options for get()
//	POST {prefix}/second/finish     pending sign-in: credential, next: signs in
//	POST {prefix}/enrol/begin       pending sign-in, no passkey yet: options for create()
//	POST {prefix}/enrol/finish      pending sign-in: credential, name, next: signs in
//	GET  ScriptURL()
//
// It runs behind the site's middleware (web.Site.Wrap), whose forgery
// protection it repeats for itself: a state-changing request that a browser
// marks as coming from another origin is refused.
type Handler struct {
	svc     *Service
	site    *web.Site
	store   *account.Store
	cfg     HandlerConfig
	log     *slog.Logger
	begins  *httplimit.RateLimiter
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
	inner   http.Handler // mux behind cop
	jsName  string
	maxForm int64
}

// NewHandler returns the ceremonies' handler for site.
func NewHandler(svc *Service, site *web.Site, cfg HandlerConfig) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = peerAddr
	}
	log := cfg.Log
	if log == nil {
		log = svc.log
	}
	sum := sha256.Sum256(script)
	h := &Handler{svc: svc, site: site, store: site.Store(), cfg: cfg, log: log.With("component", "passkey"),
		begins: httplimit.NewRateLimiter(cfg.BeginRate, cfg.BeginBurst), mux: http.NewServeMux(),
		cop: http.NewCrossOriginProtection(), jsName: "passkey." + hex.EncodeToString(sum[:6]) + ".js",
		// The answer's own limit, plus room for the other fields and the
		// form encoding, which can triple the size of JSON.
		maxForm: 3*svc.cfg.MaxBodyBytes + 4<<10}
	h.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.log.Info("cross-origin request refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"))
		h.fail(w, r, http.StatusForbidden, "error.forged")
	}))
	p := cfg.Prefix
	h.mux.HandleFunc("POST "+p+"/register/begin", h.registerBegin)
	h.mux.HandleFunc("POST "+p+"/register/finish", h.registerFinish)
	h.mux.HandleFunc("POST "+p+"/login/begin", h.loginBegin)
	h.mux.HandleFunc("POST "+p+"/login/finish", h.loginFinish)
	h.mux.HandleFunc("POST "+p+"/second/begin", h.secondBegin)
	h.mux.HandleFunc("POST "+p+"/second/finish", h.secondFinish)
	h.mux.HandleFunc("POST "+p+"/enrol/begin", h.enrolBegin)
	h.mux.HandleFunc("POST "+p+"/enrol/finish", h.enrolFinish)
	h.mux.HandleFunc("GET "+h.ScriptURL(), h.serveScript)
	h.inner = h.cop.Handler(h.mux)
	return h, nil
}

// Service returns the service whose ceremonies the handler serves.
func (h *Handler) Service() *Service { return h.svc }

// Prefix is the path the handler is mounted under.
func (h *Handler) Prefix() string { return h.cfg.Prefix }

// PendingToken returns the token of the pending sign-in whose cookie
// (PendingCookie) the request carries, or "".
func (h *Handler) PendingToken(r *http.Request) string { return h.cookieValue(r, "-pending") }

// ServeHTTP serves the ceremonies under the prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.fail(w, r, http.StatusNotFound, "error.404.body")
		return
	}
	h.inner.ServeHTTP(w, r)
}

// ScriptURL is the script's address. It names the script's content, so
// browsers may keep it forever and a new script gets a new address.
func (h *Handler) ScriptURL() string { return h.cfg.Prefix + "/" + h.jsName }

func (h *Handler) serveScript(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.Write(script)
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (h *Handler) addr(r *http.Request) string {
	a := h.cfg.ClientAddr(r)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func (h *Handler) cookieName(suffix string) string {
	if h.site.Config().Secure {
		return "__Host-" + h.cfg.CookieName + suffix
	}
	return h.cfg.CookieName + suffix
}

// cookie carries a ceremony's or pending sign-in's token. SameSite=Strict:
// the ceremonies are same-origin requests of the site's own script.
func (h *Handler) cookie(suffix, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: h.cookieName(suffix), Value: value, Path: "/", HttpOnly: true,
		Secure: h.site.Config().Secure, SameSite: http.SameSiteStrictMode, MaxAge: int(ttl / time.Second)}
	if value == "" {
		c.MaxAge = -1
	}
	return c
}

// PendingCookie returns the cookie that carries a StartPending token to
// the second-factor ceremony, for the sign-in page to set after a password
// is accepted; with an empty token, the cookie that removes it. It is
// SameSite=Lax, unlike the ceremony's: a sign-in that began at an identity
// provider reaches the second step by a redirect from that other site,
// which a strict cookie would not follow, and a Lax cookie still goes with
// no other site's POST.
func (h *Handler) PendingCookie(token string) *http.Cookie {
	c := h.cookie("-pending", token, h.svc.cfg.PendingTTL)
	c.SameSite = http.SameSiteLaxMode
	return c
}

func (h *Handler) cookieValue(r *http.Request, suffix string) string {
	c, err := r.Cookie(h.cookieName(suffix))
	if err != nil {
		return ""
	}
	return c.Value
}

// errorBody is what a refused request gets: a message for the person, in
// their language.
type errorBody struct {
	Error string `json:"error"`
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, message string) {
	text := message
	if p := web.Printer(r); p != nil {
		text = p.T(message)
	}
	writeJSON(w, status, errorBody{Error: text})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

// failErr answers a failed ceremony. Which check failed is logged, not
// told: a refused passkey and an unknown one look alike from outside.
func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, what string, err error) {
	var status int
	var message string
	switch {
	case errors.Is(err, ErrCeremonyExpired), errors.Is(err, ErrNoPending):
		status, message = http.StatusBadRequest, "passkey.error.expired"
	case errors.Is(err, ErrTooMany):
		status, message = http.StatusConflict, "passkey.error.too_many"
	case errors.Is(err, ErrInvalidName):
		status, message = http.StatusBadRequest, "passkey.error.name"
	case errors.Is(err, ErrNoCeremony), errors.Is(err, ErrRefused), errors.Is(err, ErrUnknownCredential),
		errors.Is(err, ErrCloned), errors.Is(err, ErrInactive), errors.Is(err, ErrHasPasskey):
		status, message = http.StatusBadRequest, "passkey.error.failed"
	default:
		h.log.Error(what, "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.500.body")
		return
	}
	h.log.Info(what+" refused", "address", h.addr(r), "err", err)
	h.fail(w, r, status, message)
}

// allowBegin applies the per-address limit on begun ceremonies.
func (h *Handler) allowBegin(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := h.begins.Allow(httplimit.AddrKey(h.cfg.ClientAddr(r)))
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(httplimit.RetryAfterSeconds(wait)))
		h.fail(w, r, http.StatusTooManyRequests, "error.429.title")
	}
	return ok
}

// allowSignIn keeps an address that has failed too many sign-ins, with a
// password or a passkey, from beginning another until it has waited.
func (h *Handler) allowSignIn(w http.ResponseWriter, r *http.Request) bool {
	wait := h.store.SignInWait(h.addr(r))
	if wait <= 0 {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(httplimit.RetryAfterSeconds(wait)))
	text := "signin.error.throttled"
	if p := web.Printer(r); p != nil {
		text = p.T("signin.error.throttled", "when", p.In(wait))
	}
	writeJSON(w, http.StatusTooManyRequests, errorBody{Error: text})
	return false
}

// refuseSignIn answers a failed passkey sign-in and, when the passkey or
// its answer was refused, records it in the audit log and counts it
// against the client's address as a wrong password is.
func (h *Handler) refuseSignIn(w http.ResponseWriter, r *http.Request, what string, member int64, err error) {
	if errors.Is(err, ErrCeremonyExpired) || errors.Is(err, ErrNoPending) || errors.Is(err, ErrNoCeremony) ||
		errors.Is(err, ErrRefused) || errors.Is(err, ErrUnknownCredential) || errors.Is(err, ErrCloned) ||
		errors.Is(err, ErrInactive) || errors.Is(err, ErrHasPasskey) {
		detail := err.Error()
		if len(detail) > 200 {
			detail = detail[:200]
		}
		if ferr := h.store.FailSignIn(r.Context(), account.SignInFailure{MemberID: member, Address: h.addr(r),
			Method: "passkey", Detail: detail}); ferr != nil {
			h.log.Error("record failed passkey sign-in", "err", ferr)
		}
	}
	h.failErr(w, r, what, err)
}

// readAnswer reads the posted form and returns the credential's JSON.
func (h *Handler) readAnswer(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxForm)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, r, http.StatusRequestEntityTooLarge, "error.400.body")
		} else {
			h.fail(w, r, http.StatusBadRequest, "error.400.body")
		}
		return nil, false
	}
	cred := r.PostForm.Get(fieldCredential)
	// The site's middleware may have read the form under its own, larger
	// limit; the answer's own limit holds either way.
	if int64(len(cred)) > h.svc.cfg.MaxBodyBytes {
		h.fail(w, r, http.StatusRequestEntityTooLarge, "error.400.body")
		return nil, false
	}
	return []byte(cred), true
}

func (h *Handler) registerBegin(w http.ResponseWriter, r *http.Request) {
	m, ok := web.Member(r)
	if !ok {
		h.fail(w, r, http.StatusForbidden, "signin.error.session_ended")
		return
	}
	if !h.allowBegin(w, r) {
		return
	}
	opts, tok, err := h.svc.BeginRegistration(r.Context(), m)
	if err != nil {
		h.failErr(w, r, "begin passkey registration", err)
		return
	}
	http.SetCookie(w, h.cookie("", tok, h.svc.cfg.CeremonyTTL))
	writeJSON(w, http.StatusOK, opts)
}

// registered is what a finished registration answers, and where the
// script goes next if the page said.
type registered struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Redirect string `json:"redirect,omitempty"`
}

func (h *Handler) registerFinish(w http.ResponseWriter, r *http.Request) {
	m, ok := web.Member(r)
	if !ok {
		h.fail(w, r, http.StatusForbidden, "signin.error.session_ended")
		return
	}
	body, ok := h.readAnswer(w, r)
	if !ok {
		return
	}
	http.SetCookie(w, h.cookie("", "", 0))
	pk, err := h.svc.FinishRegistration(r.Context(), m, h.cookieValue(r, ""), body, r.PostForm.Get(fieldName))
	if err != nil {
		h.failErr(w, r, "finish passkey registration", err)
		return
	}
	writeJSON(w, http.StatusOK, registered{ID: pk.ID, Name: pk.Name, Redirect: web.SafeNext(r.PostForm.Get(fieldNext))})
}

func (h *Handler) loginBegin(w http.ResponseWriter, r *http.Request) {
	if !h.allowBegin(w, r) || !h.allowSignIn(w, r) {
		return
	}
	opts, tok, err := h.svc.BeginLogin(r.Context())
	if err != nil {
		h.failErr(w, r, "begin passkey sign-in", err)
		return
	}
	http.SetCookie(w, h.cookie("", tok, h.svc.cfg.CeremonyTTL))
	writeJSON(w, http.StatusOK, opts)
}

// signedIn is what a finished sign-in answers: where the script goes next.
type signedIn struct {
	Redirect string `json:"redirect"`
}

func (h *Handler) loginFinish(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readAnswer(w, r)
	if !ok {
		return
	}
	http.SetCookie(w, h.cookie("", "", 0))
	member, err := h.svc.FinishLogin(r.Context(), h.cookieValue(r, ""), body)
	if err != nil {
		h.refuseSignIn(w, r, "passkey sign-in", 0, err)
		return
	}
	h.startSession(w, r, member, "passkey")
}

func (h *Handler) secondBegin(w http.ResponseWriter, r *http.Request) {
	if !h.allowBegin(w, r) || !h.allowSignIn(w, r) {
		return
	}
	opts, tok, err := h.svc.BeginSecondFactor(r.Context(), h.cookieValue(r, "-pending"))
	if err != nil {
		h.failErr(w, r, "begin passkey check", err)
		return
	}
	http.SetCookie(w, h.cookie("", tok, h.svc.cfg.CeremonyTTL))
	writeJSON(w, http.StatusOK, opts)
}

func (h *Handler) secondFinish(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readAnswer(w, r)
	if !ok {
		return
	}
	http.SetCookie(w, h.cookie("", "", 0))
	pending := h.cookieValue(r, "-pending")
	// Read first: the audit entry names whose sign-in was refused, and
	// how it began.
	waiting, method, _ := h.svc.PendingVia(r.Context(), pending)
	member, err := h.svc.FinishSecondFactor(r.Context(), pending, h.cookieValue(r, ""), body)
	if err != nil {
		h.refuseSignIn(w, r, "passkey check", waiting, err)
		return
	}
	http.SetCookie(w, h.PendingCookie(""))
	h.startSession(w, r, member, method+" and passkey")
}

// pendingMember returns the member whose sign-in the request's pending
// cookie names, or answers the request itself and returns false.
func (h *Handler) pendingMember(w http.ResponseWriter, r *http.Request) (account.Member, bool) {
	id, err := h.svc.Pending(r.Context(), h.cookieValue(r, "-pending"))
	if err != nil {
		h.failErr(w, r, "pending sign-in", err)
		return account.Member{}, false
	}
	m, err := h.store.Get(r.Context(), id)
	if err != nil {
		h.failErr(w, r, "pending sign-in", fmt.Errorf("%w: %w", ErrInactive, err))
		return account.Member{}, false
	}
	return m, true
}

func (h *Handler) enrolBegin(w http.ResponseWriter, r *http.Request) {
	if !h.allowBegin(w, r) || !h.allowSignIn(w, r) {
		return
	}
	m, ok := h.pendingMember(w, r)
	if !ok {
		return
	}
	opts, tok, err := h.svc.BeginEnrolment(r.Context(), h.cookieValue(r, "-pending"), m)
	if err != nil {
		h.failErr(w, r, "begin passkey enrolment", err)
		return
	}
	http.SetCookie(w, h.cookie("", tok, h.svc.cfg.CeremonyTTL))
	writeJSON(w, http.StatusOK, opts)
}

func (h *Handler) enrolFinish(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readAnswer(w, r)
	if !ok {
		return
	}
	http.SetCookie(w, h.cookie("", "", 0))
	m, ok := h.pendingMember(w, r)
	if !ok {
		return
	}
	_, method, _ := h.svc.PendingVia(r.Context(), h.cookieValue(r, "-pending"))
	_, err := h.svc.FinishEnrolment(r.Context(), h.cookieValue(r, "-pending"), m, h.cookieValue(r, ""), body, r.PostForm.Get(fieldName))
	if err != nil {
		h.refuseSignIn(w, r, "passkey enrolment", m.ID, err)
		return
	}
	http.SetCookie(w, h.PendingCookie(""))
	h.startSession(w, r, m.ID, method+", first passkey")
}

// startSession signs the member in as a password does, recorded in the
// audit log as a sign-in by how.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, member int64, how string) {
	tok, _, err := h.store.StartSessionVia(r.Context(), member, how, r.UserAgent(), h.addr(r))
	if errors.Is(err, account.ErrDisabled) || errors.Is(err, account.ErrNotFound) {
		h.refuseSignIn(w, r, "start session", member, ErrInactive)
		return
	}
	if err != nil {
		h.failErr(w, r, "start session", err)
		return
	}
	// As with a password: a session open in this browser before (someone
	// else's, on a shared computer) ends now.
	if _, old, ok := web.Session(r); ok {
		if err := h.store.SignOut(r.Context(), old, h.addr(r)); err != nil {
			h.log.Error("end the previous session", "err", err)
		}
	}
	http.SetCookie(w, h.store.Cookie(tok, h.site.Config().Secure))
	h.log.Info("signed in", "member", member, "with", how)
	next := web.SafeNext(r.PostForm.Get(fieldNext))
	if next == "" {
		next = h.cfg.Home
	}
	writeJSON(w, http.StatusOK, signedIn{Redirect: next})
}
