package workspace

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/node"
)

// The member's email notifications: a choice per community space they may
// read (node.ReadableSpaces) and the language of the emails, on a page of
// their account; and the page an unsubscribe link opens, which needs no
// sign-in.

// maxUnsubscribeBody bounds the body of an unsubscribe POST: RFC 8058's is
// "List-Unsubscribe=One-Click", the confirmation form's not much more.
const maxUnsubscribeBody = 4 << 10

// notifySpace is one space's fieldset.
type notifySpace struct {
	Space, Name string
	// ID is the space as an HTML id and form field ("youth:fi" has a
	// colon, which CSS selectors would need escaped).
	ID    string
	Mode  node.NotifyMode
	Error string
}

type langChoice struct {
	Code, Name string
	Selected   bool
}

type notifyError struct {
	Field, Message string
}

type notificationsPage struct {
	Enabled    bool
	Site       string
	Spaces     []notifySpace
	Modes      []node.NotifyMode
	Langs      []langChoice
	LangError  string
	Schedule   string
	Saved      bool
	Errors     []notifyError
	AccountURL string
}

func (ws *Workspace) mountNotifications() {
	ws.handle("GET "+node.PathNotifications, ws.showNotifications)
	ws.handle("POST "+node.PathNotifications, ws.saveNotifications)
}

func spaceID(space string) string { return "space-" + strings.ReplaceAll(space, ":", "-") }

// notificationsView builds the page for the member's settings s.
func (ws *Workspace) notificationsView(r *http.Request, s node.NotifySettings) notificationsPage {
	p := web.Printer(r)
	m, _ := web.Member(r)
	page := notificationsPage{Enabled: ws.node.NotifyEnabled(), Site: ws.site.Config().Product, Modes: node.NotifyModes,
		AccountURL: PathAccount}
	for _, sp := range node.ReadableSpaces(m, ws.node.ID()) {
		page.Spaces = append(page.Spaces, notifySpace{Space: sp, Name: node.SpaceName(p, sp), ID: spaceID(sp), Mode: s.Modes[sp]})
	}
	lang := s.Lang
	if !ws.bundle.Has(lang) {
		lang = p.Lang()
	}
	for _, l := range ws.bundle.Languages() {
		page.Langs = append(page.Langs, langChoice{Code: l, Name: ws.bundle.Printer(l).Name(), Selected: l == lang})
	}
	cfg := ws.node.NotifyConfig()
	if cfg.DigestEvery > 0 {
		page.Schedule = p.T("notifications.digest.every", "interval", p.Duration(cfg.DigestEvery))
	} else {
		page.Schedule = p.T("notifications.digest.time", "time", fmt.Sprintf("%02d:00", cfg.DigestHour), "zone", ws.zoneName())
	}
	return page
}

func (ws *Workspace) showNotifications(w http.ResponseWriter, r *http.Request) {
	m, _ := web.Member(r)
	s, err := ws.node.NotifySettings(r.Context(), m)
	if err != nil {
		ws.fail(w, r, "read notification settings", err)
		return
	}
	page := ws.notificationsView(r, s)
	page.Saved = r.URL.Query().Get("saved") == "1"
	ws.render(w, r, http.StatusOK, "notifications", sectionAccount, page)
}

// saveNotifications keeps the member's choices; a choice that is not one
// of the offered ones sends the form back, filled in as it came.
func (ws *Workspace) saveNotifications(w http.ResponseWriter, r *http.Request) {
	m, _ := web.Member(r)
	p := web.Printer(r)
	if err := r.ParseForm(); err != nil {
		ws.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	s := node.NotifySettings{Lang: r.PostForm.Get("lang"), Modes: map[string]node.NotifyMode{}}
	page := ws.notificationsView(r, s)
	for i, sp := range page.Spaces {
		v := node.NotifyMode(r.PostForm.Get(sp.ID))
		if v == "" {
			v = node.NotifyNone
		}
		page.Spaces[i].Mode = v
		s.Modes[sp.Space] = v
		valid := false
		for _, mode := range node.NotifyModes {
			valid = valid || v == mode
		}
		if !valid {
			page.Spaces[i].Error = p.T("notifications.error.mode", "space", sp.Name)
			page.Errors = append(page.Errors, notifyError{Field: sp.ID + "-" + string(node.NotifyNone), Message: page.Spaces[i].Error})
		}
	}
	if !ws.bundle.Has(s.Lang) {
		page.LangError = p.T("notifications.error.lang")
		page.Errors = append(page.Errors, notifyError{Field: "lang", Message: page.LangError})
	}
	if len(page.Errors) > 0 {
		ws.render(w, r, http.StatusUnprocessableEntity, "notifications", sectionAccount, page)
		return
	}
	if err := ws.node.SetNotifySettings(r.Context(), m, s); err != nil {
		if errors.Is(err, node.ErrNotReadable) || errors.Is(err, node.ErrInvalidNotifyMode) || errors.Is(err, node.ErrInvalidLanguage) {
			// The member's roles changed while the form was open.
			ws.site.Error(w, r, http.StatusConflict, "")
			return
		}
		ws.fail(w, r, "save notification settings", err)
		return
	}
	ws.log.Info("notification settings saved", "member", m.ID)
	http.Redirect(w, r, node.PathNotifications+"?saved=1", http.StatusSeeOther)
}

// unsubscribePage is the page an unsubscribe link opens.
type unsubscribePage struct {
	Valid   bool
	Done    bool
	Email   string
	Ask     string
	Spaces  string
	Nothing bool
	Action  string
	Change  string
}

// unsubscribeHandler serves the unsubscribe links. It runs outside the
// session and form-token layers: the signed token in the address is the
// authority, whoever sends it, so the mail client's RFC 8058 one-click POST
// (no cookie, no form token, no Origin) works, and a request from another
// site could do no more than the link's holder. A GET only shows what would
// stop: mail scanners and link previews open links.
func (ws *Workspace) unsubscribeHandler() http.Handler {
	return ws.site.Locale(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimPrefix(r.URL.Path, node.PathUnsubscribe)
		page := unsubscribePage{Action: r.URL.Path, Change: node.PathNotifications}
		p := web.Printer(r)
		var u node.Unsubscription
		var err error
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			u, err = ws.node.CheckUnsubscribe(r.Context(), token)
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, maxUnsubscribeBody)
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				ws.site.Error(w, r, http.StatusRequestEntityTooLarge, "")
				return
			}
			u, err = ws.node.Unsubscribe(r.Context(), token)
			page.Done = true
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			ws.site.Error(w, r, http.StatusMethodNotAllowed, "")
			return
		}
		if errors.Is(err, node.ErrInvalidUnsubscribe) {
			ws.pages.Render(w, r, http.StatusNotFound, "unsubscribe", page)
			return
		}
		if err != nil {
			ws.fail(w, r, "unsubscribe", err)
			return
		}
		page.Valid, page.Email = true, u.Member.Email
		names := make([]string, len(u.Spaces))
		for i, sp := range u.Spaces {
			names[i] = node.SpaceName(p, sp)
		}
		page.Spaces = strings.Join(names, ", ")
		page.Nothing = len(u.Spaces) == 0
		if u.Digest {
			page.Ask = p.T("notifications.unsubscribe.digest", "email", u.Member.Email)
		} else if len(names) > 0 {
			page.Ask = p.T("notifications.unsubscribe.post", "email", u.Member.Email, "space", names[0])
		}
		ws.pages.Render(w, r, http.StatusOK, "unsubscribe", page)
	}))
}
