// Package memberapi serves the member management of a server's JSON admin
// API: invite, list, change roles, disable and remove the people who sign
// in, and read the audit log. The hub and the nodes mount it behind their
// own admin authentication; it knows nothing of either, only of an
// account.Store, a mail.Sender and how to build an invitation's address.
//
// A member's email and name are personal data that stay on the server that
// holds the account: this package logs member ids only, never an address or
// a name.
package memberapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/protocol"
)

// Routes, under the server's admin authentication.
const (
	PathMembers = "/admin/v1/members"
	PathAudit   = "/admin/v1/members/audit"
)

const (
	// maxBody bounds a request body: an email, a name, a few roles.
	maxBody = 16 << 10
	// MaxHandle is the longest handle of a youth member's pseudonym.
	MaxHandle = 32
	// maxAuditPage is the most audit events one request returns.
	maxAuditPage = 1000
)

// Config says what the API works on.
type Config struct {
	// Store holds the accounts. Required.
	Store *account.Store
	// Mail sends invitations; nil returns the link to the caller instead.
	Mail mail.Sender
	// InviteURL turns an invitation token into the address the invited
	// person opens. Required.
	InviteURL func(token string) string
	// InvitationTTL is how long an invitation stays valid, as the Store's
	// configuration says; it is only reported.
	InvitationTTL time.Duration
	// PseudonymPrefix is the <sic> of a youth member's pseudonym
	// <sic>-<handle>: the node's id. Empty on a server without pseudonyms.
	PseudonymPrefix string
	// PseudonymRole is the role whose holders need a pseudonym ("youth").
	PseudonymRole string
	// Site names the server in the invitation email ("Safer Internet Centre
	// Belgium", "the BIK coordination team").
	Site string
	// Actor names the admin token in the audit log.
	Actor string
	// ActorOf, when set, names the caller of one request in the audit log
	// (a signed-in member); an empty answer falls back to Actor.
	ActorOf func(*http.Request) string
	// Logger receives member ids and outcomes, never emails or names.
	Logger *slog.Logger
	// Erase, when set, removes a member together with everything they
	// wrote (DELETE …/members/{id}?erase=true); a server without it
	// refuses such a request.
	Erase func(ctx context.Context, actor string, id int64) (Erasure, error)
}

// Erasure answers the removal of a member with erasure: what was erased.
type Erasure struct {
	// ID numbers the erasure on the server, to follow it.
	ID       int64 `json:"erasure"`
	Member   int64 `json:"member"`
	Posts    int   `json:"posts"`
	Comments int   `json:"comments"`
	Flags    int   `json:"flags"`
	// Held counts the items that were waiting for approval or refused.
	Held int `json:"held"`
}

// Validate reports what is missing.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("Store: required"))
	}
	if c.InviteURL == nil {
		errs = append(errs, errors.New("InviteURL: required"))
	}
	if c.PseudonymPrefix != "" && c.PseudonymRole == "" {
		errs = append(errs, errors.New("PseudonymRole: required with a PseudonymPrefix"))
	}
	if c.Actor == "" {
		errs = append(errs, errors.New("Actor: required"))
	}
	return errors.Join(errs...)
}

// API is the member management of one server.
type API struct {
	cfg Config
	log *slog.Logger
}

// actor names who sends r, for the audit log.
func (a *API) actor(r *http.Request) string {
	if a.cfg.ActorOf != nil {
		if v := a.cfg.ActorOf(r); v != "" {
			return v
		}
	}
	return a.cfg.Actor
}

// New returns the API for cfg.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("member api config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, log: log.With("component", "members")}, nil
}

// Mount registers the routes on mux, each wrapped by auth.
func (a *API) Mount(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
	mux.HandleFunc("POST "+PathMembers, auth(a.handleAdd))
	mux.HandleFunc("GET "+PathMembers, auth(a.handleList))
	mux.HandleFunc("GET "+PathAudit, auth(a.handleAudit))
	mux.HandleFunc("GET "+PathMembers+"/{id}", auth(a.handleGet))
	mux.HandleFunc("PUT "+PathMembers+"/{id}/roles", auth(a.handleRoles))
	mux.HandleFunc("POST "+PathMembers+"/{id}/disable", auth(a.handleDisable))
	mux.HandleFunc("POST "+PathMembers+"/{id}/invite", auth(a.handleInvite))
	mux.HandleFunc("DELETE "+PathMembers+"/{id}", auth(a.handleRemove))
}

// Member is a member as the API shows it.
type Member struct {
	ID          int64     `json:"id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Roles       []string  `json:"roles"`
	Status      string    `json:"status"`
	Pseudonym   string    `json:"pseudonym,omitempty"`
	HasPassword bool      `json:"has_password"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func toWire(m account.Member) Member {
	roles := m.Roles
	if roles == nil {
		roles = []string{}
	}
	return Member{ID: m.ID, Email: m.Email, Name: m.Name, Roles: roles, Status: string(m.Status),
		Pseudonym: m.Pseudonym, HasPassword: m.HasPassword, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

// AddRequest is the body of POST /admin/v1/members.
type AddRequest struct {
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// Handle makes a youth member's pseudonym <sic>-<handle>.
	Handle string `json:"handle,omitempty"`
}

// Invitation is the answer to adding or re-inviting a member. Link is set
// only when the invitation was not emailed: a link sent to the member is
// not shown to whoever invited them.
type Invitation struct {
	Member    Member    `json:"member"`
	Link      string    `json:"link,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	Emailed   bool      `json:"emailed"`
	// MailError says why sending failed; the link is then in Link.
	MailError string `json:"mail_error,omitempty"`
}

// RolesRequest is the body of PUT /admin/v1/members/{id}/roles.
type RolesRequest struct {
	Roles []string `json:"roles"`
}

// MemberList is the body of GET /admin/v1/members.
type MemberList struct {
	Members []Member `json:"members"`
}

// Event is an audit log entry as the API shows it.
type Event struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Type     string    `json:"type"`
	MemberID int64     `json:"member_id,omitempty"`
	Actor    string    `json:"actor"`
	Address  string    `json:"address,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// AuditList is the body of GET /admin/v1/members/audit. Next is the before=
// of the next (older) page, 0 on the last.
type AuditList struct {
	Events []Event `json:"events"`
	Next   int64   `json:"next,omitempty"`
}

func (a *API) handleAdd(w http.ResponseWriter, r *http.Request) {
	var req AddRequest
	if err := readJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	inv, err := a.Add(r.Context(), a.actor(r), req)
	if err != nil {
		a.writeError(w, r, a.explainAdd(r.Context(), req.Email, err))
		return
	}
	writeJSON(w, http.StatusCreated, inv)
}

// Add invites a new member for actor (the audit log's name for whoever
// adds them) and delivers the invitation: by email when a mail server is
// configured, else in the answer's Link. A handle that does not fit the
// roles is refused with ErrHandleRequired, ErrHandleNotAllowed or
// ErrHandleInvalid; the store's refusals (account.ErrEmailTaken,
// account.ErrInvalidRole, …) come back wrapped. Errors may quote the
// email, so they are not for the log as they are.
func (a *API) Add(ctx context.Context, actor string, req AddRequest) (Invitation, error) {
	pseudonym, err := a.pseudonym(req.Roles, req.Handle)
	if err != nil {
		return Invitation{}, err
	}
	m, tok, err := a.cfg.Store.Add(ctx, actor, account.NewMember{
		Email: req.Email, Name: req.Name, Roles: req.Roles, Pseudonym: pseudonym,
	})
	if err != nil {
		return Invitation{}, err
	}
	a.log.Info("member added", "member", m.ID, "roles", strings.Join(m.Roles, " "))
	return a.Deliver(ctx, m, tok), nil
}

// Pseudonym is the pseudonym a handle gives on this server, or "" where
// members have none.
func (a *API) Pseudonym(handle string) string {
	if a.cfg.PseudonymPrefix == "" || handle == "" {
		return ""
	}
	return a.cfg.PseudonymPrefix + "-" + handle
}

// PseudonymPrefix is the <sic> of the pseudonyms <sic>-<handle> given
// here, and PseudonymRole the role that needs one; both "" on a server
// without pseudonyms.
func (a *API) PseudonymPrefix() (prefix, role string) {
	if a.cfg.PseudonymPrefix == "" {
		return "", ""
	}
	return a.cfg.PseudonymPrefix, a.cfg.PseudonymRole
}

// explainAdd turns a taken email into a message that says which member has
// it, and keeps the address out of errors that get logged.
func (a *API) explainAdd(ctx context.Context, email string, err error) error {
	switch {
	case errors.Is(err, account.ErrEmailTaken):
		if m, gerr := a.cfg.Store.GetByEmail(ctx, email); gerr == nil {
			return protocol.Errorf(protocol.CodeConflict, "%s already belongs to member %d (%s)", m.Email, m.ID, m.Status)
		}
		return protocol.Errorf(protocol.CodeConflict, "this email already belongs to a member")
	case errors.Is(err, account.ErrPseudonymTaken):
		return protocol.Errorf(protocol.CodeConflict, "that handle is taken: choose another")
	}
	if e := strings.TrimSpace(email); e != "" {
		return redacted{err: err, text: strings.ReplaceAll(strings.ReplaceAll(err.Error(), e, "<email>"), strings.ToLower(e), "<email>")}
	}
	return err
}

// redacted is an error whose text has had an email address taken out, for
// the log, keeping the chain for errors.Is.
type redacted struct {
	err  error
	text string
}

func (r redacted) Error() string { return r.text }
func (r redacted) Unwrap() error { return r.err }

// Why a handle is refused, for callers that word it themselves; each
// also is a protocol error of CodeInvalidField.
var (
	// ErrHandleRequired: a member of the pseudonym role needs a handle.
	ErrHandleRequired = errors.New("handle required")
	// ErrHandleNotAllowed: a handle was given for someone who gets no
	// pseudonym.
	ErrHandleNotAllowed = errors.New("handle not allowed")
	// ErrHandleInvalid: the handle is not 1 to MaxHandle lowercase
	// letters, digits and single '-' inside.
	ErrHandleInvalid = errors.New("handle invalid")
	// ErrNoPseudonym: a member without a pseudonym cannot be given the
	// pseudonym role.
	ErrNoPseudonym = errors.New("member has no pseudonym")
)

// refusal is a protocol error that also matches one of this package's
// sentinel errors.
type refusal struct {
	pe     *protocol.Error
	reason error
}

func (r refusal) Error() string   { return r.pe.Error() }
func (r refusal) Unwrap() []error { return []error{r.pe, r.reason} }

func refuse(reason error, format string, args ...any) error {
	return refusal{pe: protocol.Errorf(protocol.CodeInvalidField, format, args...), reason: reason}
}

// pseudonym checks a handle against the roles and returns the pseudonym it
// makes: required for the pseudonym role, refused for anyone else.
func (a *API) pseudonym(roles []string, handle string) (string, error) {
	needs := a.cfg.PseudonymPrefix != "" && slices.Contains(roles, a.cfg.PseudonymRole)
	switch {
	case handle == "" && needs:
		return "", refuse(ErrHandleRequired,
			"a %s member needs a handle: their pseudonym on the network is %s-<handle>", a.cfg.PseudonymRole, a.cfg.PseudonymPrefix)
	case handle == "":
		return "", nil
	case a.cfg.PseudonymPrefix == "":
		return "", refuse(ErrHandleNotAllowed, "members here have no pseudonym: leave the handle out")
	case !needs:
		return "", refuse(ErrHandleNotAllowed, "a handle is only for %s members", a.cfg.PseudonymRole)
	}
	if err := validHandle(handle); err != nil {
		return "", err
	}
	return a.cfg.PseudonymPrefix + "-" + handle, nil
}

func validHandle(h string) error {
	ok := len(h) >= 1 && len(h) <= MaxHandle && h[0] != '-' && h[len(h)-1] != '-' && !strings.Contains(h, "--")
	for i := 0; ok && i < len(h); i++ {
		c := h[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return refuse(ErrHandleInvalid,
			"handle %q: 1 to %d lowercase letters, digits and single '-' inside", h, MaxHandle)
	}
	return nil
}

// Deliver emails the invitation with tok to m when a mail server is
// configured, and otherwise, or when sending fails, hands the link to the
// caller. Pages that invite people use it too, so that an invitation reads
// the same however it was made.
func (a *API) Deliver(ctx context.Context, m account.Member, tok string) Invitation {
	link := a.cfg.InviteURL(tok)
	inv := Invitation{Member: toWire(m), ExpiresAt: time.Now().Add(a.cfg.InvitationTTL).UTC().Truncate(time.Second)}
	if a.cfg.Mail == nil {
		inv.Link = link
		return inv
	}
	err := a.cfg.Mail.Send(ctx, invitationMessage(a.cfg.Site, m, link, a.cfg.InvitationTTL))
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), m.Email, "<recipient>")
		a.log.Warn("invitation not emailed; the link goes to the caller", "member", m.ID, "err", msg)
		inv.Link, inv.MailError = link, msg
		return inv
	}
	a.log.Info("invitation emailed", "member", m.ID)
	inv.Emailed = true
	return inv
}

func invitationMessage(site string, m account.Member, link string, ttl time.Duration) mail.Message {
	if site == "" {
		site = "bikfed"
	}
	days := int(ttl.Round(24*time.Hour) / (24 * time.Hour))
	valid := fmt.Sprintf("%d days", days)
	if days < 1 {
		valid = ttl.String()
	}
	text := fmt.Sprintf("Hello %s,\n\nYou have been invited to %s on the Better Internet for Kids network.\n\n"+
		"Open this link to choose your password and sign in:\n\n%s\n\n"+
		"The link works once and for %s. If you did not expect this invitation, ignore this message.\n",
		m.Name, site, link, valid)
	return mail.Message{To: []string{m.Email}, Subject: "Your invitation to " + site, Text: text, Link: link}
}

func (a *API) handleList(w http.ResponseWriter, r *http.Request) {
	ms, err := a.cfg.Store.List(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := MemberList{Members: make([]Member, 0, len(ms))}
	for _, m := range ms {
		out.Members = append(out.Members, toWire(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) handleGet(w http.ResponseWriter, r *http.Request) {
	id, err := memberID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	m, err := a.cfg.Store.Get(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toWire(m))
}

func (a *API) handleRoles(w http.ResponseWriter, r *http.Request) {
	id, err := memberID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req RolesRequest
	if err := readJSON(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	m, err := a.SetRoles(r.Context(), a.actor(r), id, req.Roles)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toWire(m))
}

// SetRoles replaces member id's roles for actor, which ends their
// sessions. The pseudonym role is refused (ErrNoPseudonym) to a member
// who was not invited with a handle.
func (a *API) SetRoles(ctx context.Context, actor string, id int64, roles []string) (account.Member, error) {
	if a.cfg.PseudonymPrefix != "" && slices.Contains(roles, a.cfg.PseudonymRole) {
		cur, err := a.cfg.Store.Get(ctx, id)
		if err != nil {
			return account.Member{}, err
		}
		if cur.Pseudonym == "" {
			return account.Member{}, refuse(ErrNoPseudonym,
				"member %d has no pseudonym, which a %s member needs: invite them as a new %s member with a handle",
				id, a.cfg.PseudonymRole, a.cfg.PseudonymRole)
		}
	}
	m, err := a.cfg.Store.SetRoles(ctx, actor, id, roles)
	if err != nil {
		return account.Member{}, err
	}
	a.log.Info("member roles changed", "member", m.ID, "roles", strings.Join(m.Roles, " "))
	return m, nil
}

func (a *API) handleDisable(w http.ResponseWriter, r *http.Request) {
	id, err := memberID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.cfg.Store.Disable(r.Context(), a.actor(r), id); err != nil {
		a.writeError(w, r, err)
		return
	}
	m, err := a.cfg.Store.Get(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.log.Info("member disabled", "member", id)
	writeJSON(w, http.StatusOK, toWire(m))
}

func (a *API) handleInvite(w http.ResponseWriter, r *http.Request) {
	id, err := memberID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	inv, err := a.Reinvite(r.Context(), a.actor(r), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inv)
}

// Reinvite makes a new invitation for member id, for actor, and delivers
// it as Add does.
func (a *API) Reinvite(ctx context.Context, actor string, id int64) (Invitation, error) {
	tok, err := a.cfg.Store.Invite(ctx, actor, id)
	if err != nil {
		return Invitation{}, err
	}
	m, err := a.cfg.Store.Get(ctx, id)
	if err != nil {
		return Invitation{}, err
	}
	a.log.Info("member invited again", "member", id)
	return a.Deliver(ctx, m, tok), nil
}

func (a *API) handleRemove(w http.ResponseWriter, r *http.Request) {
	id, err := memberID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if v := r.URL.Query().Get("erase"); v != "" {
		erase, err := strconv.ParseBool(v)
		if err != nil {
			a.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "erase=%q is not a boolean", v))
			return
		}
		if erase {
			a.erase(w, r, id)
			return
		}
	}
	if err := a.cfg.Store.Remove(r.Context(), a.actor(r), id); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.log.Info("member removed", "member", id)
	w.WriteHeader(http.StatusNoContent)
}

// erase removes member id together with everything they wrote.
func (a *API) erase(w http.ResponseWriter, r *http.Request, id int64) {
	if a.cfg.Erase == nil {
		a.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "this server keeps nothing its members write: remove without erase"))
		return
	}
	res, err := a.cfg.Erase(r.Context(), a.actor(r), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.log.Info("member erased", "member", id, "erasure", res.ID)
	writeJSON(w, http.StatusOK, res)
}

func (a *API) handleAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var before int64
	limit := 100
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			a.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "before: %q is not an event id", v))
			return
		}
		before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditPage {
			a.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "limit: must be 1 to %d", maxAuditPage))
			return
		}
		limit = n
	}
	evs, err := a.cfg.Store.Audit(r.Context(), before, limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := AuditList{Events: make([]Event, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, Event{ID: e.ID, At: e.At, Type: string(e.Type), MemberID: e.MemberID,
			Actor: e.Actor, Address: e.Address, Detail: e.Detail})
	}
	if len(evs) == limit {
		out.Next = evs[len(evs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func memberID(r *http.Request) (int64, error) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, protocol.Errorf(protocol.CodeBadRequest, "member id %q is not a number", v)
	}
	return id, nil
}

// readJSON decodes a small JSON body strictly.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return protocol.Errorf(protocol.CodeRecordTooLarge, "request body is larger than %d bytes", mbe.Limit)
		}
		return protocol.Errorf(protocol.CodeMalformedJSON, "decode request: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return protocol.Errorf(protocol.CodeMalformedJSON, "decode request: trailing data")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// codeOf maps the account package's refusals to the admin API's codes.
func codeOf(err error) (protocol.Code, bool) {
	switch {
	case errors.Is(err, account.ErrNotFound):
		return protocol.CodeNotFound, true
	case errors.Is(err, account.ErrEmailTaken), errors.Is(err, account.ErrPseudonymTaken),
		errors.Is(err, account.ErrActive), errors.Is(err, account.ErrDisabled):
		return protocol.CodeConflict, true
	case errors.Is(err, account.ErrInvalidEmail), errors.Is(err, account.ErrInvalidName),
		errors.Is(err, account.ErrInvalidPseudonym), errors.Is(err, account.ErrInvalidRole):
		return protocol.CodeInvalidField, true
	}
	return "", false
}

// writeError answers with the protocol's error body. Unexpected errors are
// logged (their text has no email: see explainAdd) and answered without
// detail.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe):
	default:
		if code, ok := codeOf(err); ok {
			pe = &protocol.Error{Code: code, Message: err.Error()}
			break
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			pe = &protocol.Error{Code: protocol.CodeUnavailable, Message: "request cancelled"}
			break
		}
		a.log.Error("member api", "method", r.Method, "path", r.URL.Path, "err", err)
		pe = &protocol.Error{Code: protocol.CodeInternal, Message: "internal error; see the server's log"}
	}
	writeJSON(w, protocol.HTTPStatus(pe.Code), protocol.ErrorResponse{Error: pe})
}
