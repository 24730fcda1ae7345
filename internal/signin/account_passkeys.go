package signin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/passkey"
	"github.com/bikfed/bikfed/internal/web"
)

// Limits on the passkey forms: a credential id is at most 1023 bytes, 1364
// in base64url; the passkey package refuses names over 100 characters
// itself.
const (
	maxPasskeyID   = 1400
	maxPasskeyName = 1024
)

// passkeyRequired reports whether member m's role asks for a passkey after
// the password.
func (h *Handler) passkeyRequired(r *http.Request, m account.Member) (bool, error) {
	required, err := h.keys.RequiredRoles(r.Context())
	if err != nil {
		return false, err
	}
	return passkey.Required(m.Roles, required), nil
}

// fillPasskeys adds the member's passkeys to the account page, keeping a
// rename form the request asked for or that came back with an error.
func (h *Handler) fillPasskeys(r *http.Request, page *accountPage) error {
	m, _ := web.Member(r)
	list, err := h.keys.List(r.Context(), m.ID)
	if err != nil {
		return err
	}
	required, err := h.passkeyRequired(r, m)
	if err != nil {
		return err
	}
	v := page.Passkeys
	if v == nil {
		v = &passkeysView{}
	}
	v.Required, v.Add, v.AddDone = required, h.ceremony("register"), r.URL.Path+"?done=passkey-added"
	p := web.Printer(r)
	var renaming bool
	for _, pk := range list {
		name := pk.Name
		if name == "" {
			name = p.T("passkey.account.unnamed")
		}
		v.Items = append(v.Items, passkeyView{ID: pk.ID, Name: name, Added: pk.CreatedAt, LastUsed: pk.LastUsedAt,
			RenameHref: r.URL.Path + "?rename=" + url.QueryEscape(pk.ID) + "#passkey-rename",
			Remove:     r.URL.Path + "?remove=" + url.QueryEscape(pk.ID)})
		if v.Rename != nil && v.Rename.ID == pk.ID {
			renaming = true
			v.Rename.Old = name
			if v.Rename.Error == "" {
				v.Rename.Name = pk.Name
			}
		}
	}
	if !renaming {
		// Not one of theirs (any more): the list is shown without it.
		v.Rename = nil
	}
	page.Passkeys = v
	return nil
}

func (h *Handler) renamePasskey(w http.ResponseWriter, r *http.Request) {
	m, _ := web.Member(r)
	p := web.Printer(r)
	id, name := field(r, "id", maxPasskeyID), field(r, "name", maxPasskeyName)
	form := &renameForm{ID: id, Name: name}
	err := passkey.ErrInvalidName
	switch {
	case len(r.PostForm.Get("name")) > maxPasskeyName:
		form.Error = p.T("passkey.error.name")
	case strings.TrimSpace(name) == "":
		form.Error = p.T("passkey.error.name_empty")
	default:
		err = h.keys.Rename(r.Context(), m.ID, id, name)
	}
	switch {
	case err == nil:
		h.log.Info("passkey renamed", "member", m.ID)
		http.Redirect(w, r, r.URL.Path+"?done=passkey-renamed", http.StatusSeeOther)
		return
	case errors.Is(err, passkey.ErrNotFound):
		h.showAccount(w, r, http.StatusNotFound, accountPage{Alert: p.T("passkey.error.gone")})
		return
	case errors.Is(err, passkey.ErrInvalidName):
		if form.Error == "" {
			form.Error = p.T("passkey.error.name")
		}
	default:
		h.log.Error("rename passkey", "member", m.ID, "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	h.showAccount(w, r, http.StatusUnprocessableEntity, accountPage{Passkeys: &passkeysView{Rename: form}})
}

// askRemovePasskey shows what removing a passkey means before it is done.
func (h *Handler) askRemovePasskey(w http.ResponseWriter, r *http.Request, id string) {
	page, found, err := h.removePage(r, id)
	if err != nil {
		h.log.Error("look up passkey", "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	if !found {
		h.showAccount(w, r, http.StatusNotFound, accountPage{Alert: web.Printer(r).T("passkey.error.gone")})
		return
	}
	status := http.StatusOK
	if page.Last {
		status = http.StatusConflict
	}
	h.pages.RenderIn(w, r, status, "passkey-remove", "account", page)
}

func (h *Handler) removePage(r *http.Request, id string) (removePage, bool, error) {
	m, _ := web.Member(r)
	page := removePage{Action: r.URL.Path, Cancel: r.URL.Path, ID: id}
	list, err := h.keys.List(r.Context(), m.ID)
	if err != nil {
		return page, false, err
	}
	found := false
	for _, pk := range list {
		if pk.ID == id {
			found, page.Name = true, pk.Name
		}
	}
	if page.Name == "" {
		page.Name = web.Printer(r).T("passkey.account.unnamed")
	}
	required, err := h.passkeyRequired(r, m)
	if err != nil {
		return page, false, err
	}
	page.Last = required && len(list) == 1
	return page, found, nil
}

func (h *Handler) removePasskey(w http.ResponseWriter, r *http.Request) {
	m, _ := web.Member(r)
	id := field(r, "id", maxPasskeyID)
	page, found, err := h.removePage(r, id)
	if err == nil && found && page.Last {
		h.pages.RenderIn(w, r, http.StatusConflict, "passkey-remove", "account", page)
		return
	}
	if err == nil && found {
		err = h.keys.Remove(r.Context(), m.ID, id)
	}
	switch {
	case err == nil && found:
		h.log.Info("passkey removed", "member", m.ID)
		http.Redirect(w, r, r.URL.Path+"?done=passkey-removed", http.StatusSeeOther)
	case err == nil || errors.Is(err, passkey.ErrNotFound):
		h.showAccount(w, r, http.StatusNotFound, accountPage{Alert: web.Printer(r).T("passkey.error.gone")})
	default:
		h.log.Error("remove passkey", "member", m.ID, "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
	}
}
