package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/protocol"
)

type nodePage struct {
	Node     nodeRow
	Refusals refusalGroup
	Erasures []erasureRow // erasures the node has still to acknowledge
	Operator bool
	Notice   string
}

// nodeNotices are the messages a node's page shows after an action.
var nodeNotices = map[string]string{
	"suspend": "console.node.done.suspend",
	"resume":  "console.node.done.resume",
	"remove":  "console.node.done.remove",
}

// findNode returns the status of node id, false when the hub has never
// registered it.
func (c *Console) findNode(r *http.Request, id string) (protocol.NodeStatus, []protocol.Erasure, bool, error) {
	st, err := c.hub.NetworkStatus(r.Context())
	if err != nil {
		return protocol.NodeStatus{}, nil, false, err
	}
	for _, n := range st.Nodes {
		if n.Node == id {
			return n, st.Erasures, true, nil
		}
	}
	return protocol.NodeStatus{}, nil, false, nil
}

func (c *Console) node(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	n, erasures, ok, err := c.findNode(r, r.PathValue("id"))
	switch {
	case err != nil:
		c.fail(w, r, "read network status", err)
		return
	case !ok:
		c.site.NotFound(w, r)
		return
	}
	page := nodePage{Node: nodeView(p, n, time.Now()), Refusals: refusalsOf(p, n), Operator: signedIn(r).HasRole(hub.RoleOperator)}
	if id, ok := nodeNotices[r.URL.Query().Get("done")]; ok {
		page.Notice = p.T(id)
	}
	for _, e := range erasures {
		for _, holder := range e.Pending {
			if holder == n.Node {
				page.Erasures = append(page.Erasures, erasureView(p, e))
			}
		}
	}
	c.pages.RenderIn(w, r, http.StatusOK, "node", "overview", page)
}

// nodeActions are the actions on a node, each with the words of its
// confirmation page.
var nodeActions = map[string]bool{"suspend": true, "resume": true, "rotate": true, "remove": true}

type confirmNodePage struct {
	Node   nodeRow
	Action string
	// Content is the choice of a removal: keep or erase the node's entities.
	Content, ContentError string
	Error                 string
}

func (c *Console) actionNode(w http.ResponseWriter, r *http.Request) (protocol.NodeStatus, string, bool) {
	action := r.PathValue("action")
	if !nodeActions[action] {
		c.site.NotFound(w, r)
		return protocol.NodeStatus{}, "", false
	}
	n, _, ok, err := c.findNode(r, r.PathValue("id"))
	switch {
	case err != nil:
		c.fail(w, r, "read network status", err)
		return n, "", false
	case !ok:
		c.site.NotFound(w, r)
		return n, "", false
	}
	return n, action, true
}

// confirmNodeAction says what an action will do and carries its form.
func (c *Console) confirmNodeAction(w http.ResponseWriter, r *http.Request) {
	n, action, ok := c.actionNode(w, r)
	if !ok {
		return
	}
	c.renderConfirmNode(w, r, http.StatusOK, n, confirmNodePage{Action: action})
}

func (c *Console) renderConfirmNode(w http.ResponseWriter, r *http.Request, status int, n protocol.NodeStatus, page confirmNodePage) {
	page.Node = nodeView(web.Printer(r), n, time.Now())
	if n.Removed {
		page.Error = web.Printer(r).T("console.node.error.removed")
		status = http.StatusConflict
	}
	c.pages.RenderIn(w, r, status, "confirm-node", "overview", page)
}

// nodeAction does a confirmed action.
func (c *Console) nodeAction(w http.ResponseWriter, r *http.Request) {
	n, action, ok := c.actionNode(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		c.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	if n.Removed {
		c.renderConfirmNode(w, r, http.StatusConflict, n, confirmNodePage{Action: action})
		return
	}
	ctx := r.Context()
	me := signedIn(r)
	var err error
	switch action {
	case "suspend":
		err = c.hub.SuspendNode(ctx, n.Node)
	case "resume":
		err = c.hub.ResumeNode(ctx, n.Node)
	case "rotate":
		act, rerr := c.hub.RotateNodeKey(ctx, n.Node)
		if err = rerr; err == nil {
			c.log.Info("node key rotated from the console", "node", n.Node, "member", me.ID)
			c.pages.RenderIn(w, r, http.StatusOK, "token", "overview", tokenPage{Node: n.Node, Name: n.Name, Token: act.Token,
				Command: enrolCommand(c.hub.BaseURL(), act.Token), Rotated: true})
			return
		}
	case "remove":
		content := hub.NodeRemoval(r.PostForm.Get("content"))
		if content != hub.KeepContent && content != hub.EraseContent {
			c.renderConfirmNode(w, r, http.StatusUnprocessableEntity, n, confirmNodePage{Action: action,
				ContentError: web.Printer(r).T("console.node.remove.error.content")})
			return
		}
		_, err = c.hub.RemoveNode(ctx, n.Node, content)
	}
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code == protocol.CodeConflict {
			c.renderConfirmNode(w, r, http.StatusConflict, n, confirmNodePage{Action: action,
				Error: web.Printer(r).T("console.node.error.removed")})
			return
		}
		c.fail(w, r, action+" node", err)
		return
	}
	c.log.Info("node action from the console", "node", n.Node, "action", action, "member", me.ID)
	http.Redirect(w, r, pathNodes+url.PathEscape(n.Node)+"?done="+action, http.StatusSeeOther)
}

// tokenPage shows an enrolment token, once.
type tokenPage struct {
	Node, Name, Token, Command string
	Rotated, Again             bool
}

func enrolCommand(base, token string) string {
	return "bikfed node init --hub " + base + " --token " + token + " --data <directory>"
}

// Limits of the register form, far above real values.
const (
	maxNodeID     = 64
	maxCountries  = 200
	maxNameLength = protocol.MaxShortField
)

type registerPage struct {
	ID, Name, Countries                string
	IDError, NameError, CountriesError string
}

func (p registerPage) HasErrors() bool {
	return p.IDError != "" || p.NameError != "" || p.CountriesError != ""
}

func (c *Console) showRegister(w http.ResponseWriter, r *http.Request) {
	c.pages.RenderIn(w, r, http.StatusOK, "register", "overview", registerPage{})
}

// register registers a node and shows its enrolment token once.
func (c *Console) register(w http.ResponseWriter, r *http.Request) {
	p := web.Printer(r)
	if err := r.ParseForm(); err != nil {
		c.site.Error(w, r, http.StatusBadRequest, "")
		return
	}
	page := registerPage{
		ID:        strings.TrimSpace(r.PostForm.Get("id")),
		Name:      strings.TrimSpace(r.PostForm.Get("name")),
		Countries: strings.TrimSpace(r.PostForm.Get("countries")),
	}
	switch {
	case page.ID == "":
		page.IDError = p.T("console.register.error.id_missing")
	case len(page.ID) > maxNodeID || protocol.ValidNodeID(page.ID) != nil || page.ID == protocol.HubID:
		page.IDError = p.T("console.register.error.id")
	}
	if len(page.Name) > maxNameLength {
		page.NameError = p.N("console.register.error.name_long", maxNameLength)
	} else if _, bidi := protocol.BidiControl(page.Name); bidi {
		page.NameError = p.T("console.register.error.name")
	}
	if len(page.Countries) > maxCountries {
		page.CountriesError = p.T("console.register.error.countries")
	}
	if page.HasErrors() {
		c.pages.RenderIn(w, r, http.StatusUnprocessableEntity, "register", "overview", page)
		return
	}
	_, _, existed, err := c.findNode(r, page.ID)
	if err != nil {
		c.fail(w, r, "read network status", err)
		return
	}
	var countries []string
	for _, s := range strings.FieldsFunc(page.Countries, func(r rune) bool { return r == ',' || r == ' ' }) {
		countries = append(countries, strings.ToLower(s))
	}
	tok, err := c.hub.RegisterNode(r.Context(), page.ID, page.Name, countries...)
	if err != nil {
		var pe *protocol.Error
		switch {
		case errors.As(err, &pe) && pe.Code == protocol.CodeConflict:
			page.IDError = p.T("console.register.error.removed")
		case errors.As(err, &pe) && pe.Code == protocol.CodeInvalidField:
			page.CountriesError = p.T("console.register.error.countries")
		default:
			c.fail(w, r, "register node", err)
			return
		}
		c.pages.RenderIn(w, r, http.StatusUnprocessableEntity, "register", "overview", page)
		return
	}
	c.log.Info("node registered from the console", "node", page.ID, "member", signedIn(r).ID)
	name := page.Name
	if name == "" {
		name = page.ID
	}
	c.pages.RenderIn(w, r, http.StatusOK, "token", "overview", tokenPage{Node: page.ID, Name: name, Token: tok,
		Command: enrolCommand(c.hub.BaseURL(), tok), Again: existed})
}
