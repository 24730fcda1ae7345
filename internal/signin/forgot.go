package signin

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/web"
)

type forgotPage struct {
	Action string
	Email  string
	Sent   bool
}

func (h *Handler) showForgot(w http.ResponseWriter, r *http.Request) {
	h.pages.Render(w, r, http.StatusOK, "forgot", forgotPage{Action: h.cfg.Prefix + "/forgot"})
}

// sendReset answers every request the same way, whether the address has an
// account or not, and sends the link after answering, so that neither the
// page nor its timing tells which.
func (h *Handler) sendReset(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	if ok, wait := h.resets.Allow(h.cfg.ClientAddr(r)); !ok {
		h.site.TooMany(w, r, wait)
		return
	}
	email := strings.TrimSpace(field(r, "email", maxEmail))
	tok, m, err := h.store.RequestReset(r.Context(), email, h.addr(r))
	if err != nil {
		h.log.Error("request a reset link", "err", err)
		h.site.Error(w, r, http.StatusInternalServerError, "")
		return
	}
	if tok != "" {
		p := web.Printer(r)
		link := h.cfg.BaseURL + h.cfg.Prefix + "/reset?token=" + url.QueryEscape(tok)
		go h.mailReset(context.WithoutCancel(r.Context()), m, p.T("mail.reset.subject", "site", h.site.Config().Product),
			p.T("mail.reset.text", "name", m.Name, "site", h.site.Config().Product, "link", link), link)
	}
	h.pages.Render(w, r, http.StatusOK, "forgot", forgotPage{Action: h.cfg.Prefix + "/forgot", Sent: true})
}

func (h *Handler) mailReset(ctx context.Context, m account.Member, subject, text, link string) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.MailTimeout)
	defer cancel()
	err := h.cfg.Mail.Send(ctx, mail.Message{To: []string{m.Email}, Subject: subject, Text: text, Link: link})
	if err != nil {
		h.log.Error("send a reset link", "member", m.ID, "err", err)
		return
	}
	h.log.Info("reset link sent", "member", m.ID)
}
