package hub

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/protocol"
)

// The network status page is the coordination team's view of the network:
// GET /status, behind a sign-in with the operator token. The same data is
// JSON at GET /v1/status for scripts.
const (
	pathStatusPage = "/status"
	pathSignIn     = "/status/signin"
	pathSignOut    = "/status/signout"
	sessionCookie  = "bikfed_status"
	// sessionTTL is how long a sign-in lasts.
	sessionTTL = 12 * time.Hour
	// maxRefusalsShown is how many refusals per node the page lists; the
	// JSON status has up to maxKeptRefusals.
	maxRefusalsShown = 10
)

// mountOps adds the operator routes: readiness, metrics and the status page.
func (h *Hub) mountOps(mux *http.ServeMux) {
	mux.HandleFunc("GET /readyz", h.handleReady)
	mux.HandleFunc("GET /metrics", h.operator(h.handleMetrics().ServeHTTP))
	mux.HandleFunc("GET "+pathStatusPage, h.handleStatusPage)
	mux.HandleFunc("GET "+pathSignIn, h.handleSignInForm)
	mux.HandleFunc("POST "+pathSignIn, h.handleSignIn)
	mux.HandleFunc("POST "+pathSignOut, h.handleSignOut)
}

// sessions are the status page's sign-ins, kept by the hub rather than in
// the cookie, so that signing out ends one for good: a copied cookie is
// worth nothing after it. Only the SHA-256 of each random session id is
// kept. A restart signs everyone out.
type sessions struct {
	mu   sync.Mutex
	byID map[[sha256.Size]byte]time.Time // expiry
}

// maxSessions bounds the memory sign-ins can take; past it the session
// closest to its expiry is dropped.
const maxSessions = 1000

func (s *sessions) start(now time.Time) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("new session: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = make(map[[sha256.Size]byte]time.Time)
	}
	for k, exp := range s.byID {
		if !now.Before(exp) {
			delete(s.byID, k)
		}
	}
	for len(s.byID) >= maxSessions {
		var first [sha256.Size]byte
		var firstExp time.Time
		for k, exp := range s.byID {
			if firstExp.IsZero() || exp.Before(firstExp) {
				first, firstExp = k, exp
			}
		}
		delete(s.byID, first)
	}
	s.byID[sha256.Sum256([]byte(id))] = now.Add(sessionTTL)
	return id, nil
}

func (s *sessions) valid(id string, now time.Time) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.byID[sha256.Sum256([]byte(id))]
	return ok && now.Before(exp)
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, sha256.Sum256([]byte(id)))
}

// signedIn accepts a session cookie or, for scripts, the operator's bearer
// token.
func (h *Hub) signedIn(r *http.Request) bool {
	if c, err := r.Cookie(sessionCookie); err == nil && h.ops.sessions.valid(c.Value, h.now()) {
		return true
	}
	if r.Header.Get("Authorization") != "" {
		p, err := h.authenticate(r.Header.Get("Authorization"))
		return err == nil && p.operator
	}
	return false
}

func (h *Hub) setSession(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     pathStatusPage,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   strings.HasPrefix(h.cfg.PublicURL, "https:"),
		SameSite: http.SameSiteStrictMode,
	})
}

// pagesCSP allows the pages' one inline stylesheet by its hash, rather than
// any inline style an injection could add.
var pagesCSP = func() string {
	i := strings.Index(pagesHTML, "<style>") + len("<style>")
	j := strings.Index(pagesHTML, "</style>")
	sum := sha256.Sum256([]byte(pagesHTML[i:j]))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// pageHeaders are set on every operator page: nothing is cached, framed,
// or loaded from elsewhere; the pages need no script at all.
func pageHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", pagesCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
}

func (h *Hub) handleSignInForm(w http.ResponseWriter, r *http.Request) {
	if h.signedIn(r) {
		http.Redirect(w, r, pathStatusPage, http.StatusSeeOther)
		return
	}
	h.renderSignIn(w, http.StatusOK, "")
}

func (h *Hub) renderSignIn(w http.ResponseWriter, status int, problem string) {
	var buf bytes.Buffer
	if err := h.ops.pages.ExecuteTemplate(&buf, "signin", map[string]any{"Problem": problem}); err != nil {
		h.log.Error("render sign-in page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pageHeaders(w)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// handleSignIn is POST /status/signin with the operator token.
func (h *Hub) handleSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		h.renderSignIn(w, http.StatusBadRequest, "The form could not be read; please try again.")
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if subtle.ConstantTimeCompare([]byte(tok), []byte(h.adminToken)) != 1 {
		h.log.Warn("status page sign-in refused", "remote", r.RemoteAddr)
		h.renderSignIn(w, http.StatusUnauthorized, "That is not the operator token.")
		return
	}
	id, err := h.ops.sessions.start(h.now())
	if err != nil {
		h.log.Error("status page sign-in", "err", err)
		http.Error(w, "internal error; see the hub's log", http.StatusInternalServerError)
		return
	}
	h.setSession(w, id, int(sessionTTL/time.Second))
	http.Redirect(w, r, pathStatusPage, http.StatusSeeOther)
}

func (h *Hub) handleSignOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.ops.sessions.end(c.Value)
	}
	h.setSession(w, "", -1)
	http.Redirect(w, r, pathSignIn, http.StatusSeeOther)
}

// statusPage is what the status template renders.
type statusPage struct {
	Now      time.Time
	Status   *protocol.NetworkStatus
	Gossip   bool
	Members  []gossip.Member
	Alive    int
	Down     int
	Chart    template.HTML
	Summary  []lagSummary
	Interval time.Duration
}

// handleStatusPage is GET /status.
func (h *Hub) handleStatusPage(w http.ResponseWriter, r *http.Request) {
	if !h.signedIn(r) {
		http.Redirect(w, r, pathSignIn, http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	now := h.now().UTC()
	st, err := h.status(ctx, "")
	if err != nil {
		h.log.Error("status page", "err", err)
		http.Error(w, "internal error; see the hub's log", http.StatusInternalServerError)
		return
	}
	history, err := h.lagHistorySince(ctx, now.Add(-lagHistory))
	if err != nil {
		h.log.Error("status page", "err", err)
		http.Error(w, "internal error; see the hub's log", http.StatusInternalServerError)
		return
	}
	p := statusPage{
		Now:      now,
		Status:   st,
		Gossip:   h.cfg.Gossip.Enabled,
		Members:  h.GossipMembers(),
		Chart:    lagChartSVG(history, now, h.cfg.LagSampleInterval),
		Summary:  summarise(history),
		Interval: h.cfg.LagSampleInterval,
	}
	for _, m := range p.Members {
		if m.State == gossip.StateAlive {
			p.Alive++
		} else {
			p.Down++
		}
	}
	var buf bytes.Buffer
	if err := h.ops.pages.ExecuteTemplate(&buf, "status", p); err != nil {
		h.log.Error("render status page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pageHeaders(w)
	w.Write(buf.Bytes())
}

// parsePages parses the operator pages' templates.
func parsePages() *template.Template {
	return template.Must(template.New("pages").Funcs(template.FuncMap{
		"ago":      agoText,
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"seconds":  fmtSeconds,
		"short":    func(s string) string { return s[:min(len(s), 10)] },
		"badge":    liveBadge,
		"first":    func(rs []protocol.Refusal) []protocol.Refusal { return rs[:min(len(rs), maxRefusalsShown)] },
		"interval": func(d time.Duration) string { return d.String() },
	}).Parse(pagesHTML))
}

// agoText says how long ago t (a time.Time or *time.Time) was, for people:
// "12 s ago", "3 min ago".
func agoText(now time.Time, t any) string {
	var at time.Time
	switch t := t.(type) {
	case time.Time:
		at = t
	case *time.Time:
		if t != nil {
			at = *t
		}
	}
	if at.IsZero() {
		return "never"
	}
	d := now.Sub(at)
	switch {
	case d < 0:
		return "just now"
	case d < 2*time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// liveBadge gives a liveness a symbol and a CSS class; the page always
// shows the word too, so colour is never the only signal.
func liveBadge(live string) map[string]string {
	switch live {
	case string(gossip.StateAlive):
		return map[string]string{"class": "ok", "symbol": "●"}
	case string(gossip.StateLeft):
		return map[string]string{"class": "idle", "symbol": "○"}
	case liveNever:
		return map[string]string{"class": "idle", "symbol": "–"}
	}
	return map[string]string{"class": "bad", "symbol": "✕"}
}

const pagesHTML = `
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} — bikfed hub</title>
<style>
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fff;margin:0}
header,main{max-width:72rem;margin:0 auto;padding:0 1rem}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ccc}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.95rem}
caption{text-align:left;font-weight:600;padding:.5rem 0}
th,td{border-bottom:1px solid #ddd;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 .5rem;border-radius:.75rem;font-weight:600;white-space:nowrap}
.ok{background:#dff3e4;color:#0b5d1e}.bad{background:#fde2e1;color:#8a1c14}.idle{background:#eee;color:#333}
.muted{color:#555;font-size:.9rem}
.chart{max-width:100%;height:auto;border:1px solid #ddd}
form.inline{display:inline}
button,input{font:inherit;padding:.35rem .7rem}
label{display:block;font-weight:600;margin-bottom:.25rem}
.problem{color:#8a1c14;font-weight:600}
a{color:#0b4f9c}
:focus-visible{outline:3px solid #0b4f9c;outline-offset:2px}
</style>
</head>{{end}}

{{define "signin"}}{{template "head" "Sign in"}}
<body>
<header><h1>bikfed hub — network status</h1></header>
<main>
<h2>Sign in</h2>
<p>The network status is for the coordination team. Sign in with the hub's operator token (the <code>admin.token</code> file in the hub's data directory).</p>
{{with .Problem}}<p class="problem" role="alert">{{.}}</p>{{end}}
<form method="post" action="/status/signin">
<label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required size="48">
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>{{end}}

{{define "status"}}{{template "head" "Network status"}}
<body>
<header>
<h1>Network status</h1>
<form class="inline" method="post" action="/status/signout"><button type="submit">Sign out</button></form>
</header>
<main>
<p>At <time datetime="{{iso .Now}}">{{.Now.Format "2006-01-02 15:04:05"}} UTC</time>: hub_seq {{.Status.HubSeq}}, {{.Status.Entities}} entities, {{len .Status.Nodes}} nodes.
{{if .Gossip}}Gossip: {{.Alive}} members alive, {{.Down}} dead or gone.{{else}}Gossip is off: liveness comes from each node's last contact over HTTP.{{end}}
<a href="/status">Refresh</a></p>

<table>
<caption>Nodes</caption>
<thead><tr>
<th scope="col">Node</th><th scope="col">Liveness</th><th scope="col">Last push</th><th scope="col">Last pull</th>
<th scope="col">Pull lag</th><th scope="col">Push lag</th><th scope="col">Refused</th><th scope="col">Epoch</th><th scope="col">Version</th>
</tr></thead>
<tbody>
{{range .Status.Nodes}}{{$b := badge .Live}}
<tr id="node-{{.Node}}">
<th scope="row">{{.Node}}<br><span class="muted">{{.Name}}{{if not .Enrolled}} (not enrolled){{end}}</span></th>
<td><span class="badge {{index $b "class"}}" data-live="{{.Live}}"><span aria-hidden="true">{{index $b "symbol"}}</span> {{.Live}}</span><br>
<span class="muted">{{if eq .LiveSource "gossip"}}gossip, since {{ago $.Now .LiveSince}}{{else}}last contact {{ago $.Now .LiveSince}}{{end}}</span></td>
<td>{{if .LastPushAt}}<time datetime="{{iso .LastPushAt}}">{{ago $.Now .LastPushAt}}</time>{{else}}never{{end}}</td>
<td>{{if .LastPullAt}}<time datetime="{{iso .LastPullAt}}">{{ago $.Now .LastPullAt}}</time>{{else}}never{{end}}</td>
<td class="num">{{if .CursorAhead}}<strong data-ahead="{{.CursorAhead}}">cursor {{.CursorAhead}} ahead of the hub</strong><br><span class="muted">the hub lost changes this node had: restored from an older copy?</span>{{else}}{{.PullLag}} changes<br><span class="muted">{{seconds .PullLagSeconds}}</span>{{end}}</td>
<td class="num">{{.PushLag}} changes</td>
<td class="num">{{if .RefusalCount}}<a href="#refused-{{.Node}}">{{.RefusalCount}}</a>{{else}}0{{end}}</td>
<td><code title="{{.Epoch}}">{{short .Epoch}}</code></td>
<td>{{if .Version}}protocol {{.Version}}{{else}}<span class="muted">unknown</span>{{end}}</td>
</tr>
{{else}}
<tr><td colspan="9">No nodes registered yet.</td></tr>
{{end}}
</tbody>
</table>

<h2 id="lag">Lag over the last 24 hours</h2>
<figure>
{{.Chart}}
<figcaption class="muted">Pull lag: how old the oldest change is that a node has not pulled yet, sampled every {{interval .Interval}}; each bin shows its worst value. Lines differ by colour and dash pattern; the legend names them.</figcaption>
</figure>
<table>
<caption>Lag over the last 24 hours, as text</caption>
<thead><tr><th scope="col">Node</th><th scope="col">Now</th><th scope="col">Worst</th><th scope="col">Mean</th><th scope="col">Samples</th></tr></thead>
<tbody>
{{range .Summary}}<tr><th scope="row">{{.Node}}</th>
<td class="num">{{seconds .LatestSeconds}} ({{.LatestChanges}} changes)</td>
<td class="num">{{seconds .WorstSeconds}} ({{.WorstChanges}} changes)</td>
<td class="num">{{seconds .MeanSeconds}}</td>
<td class="num">{{.Samples}}</td></tr>
{{else}}<tr><td colspan="5">No samples yet.</td></tr>{{end}}
</tbody>
</table>

{{range .Status.Nodes}}{{if .Refusals}}
<h2 id="refused-{{.Node}}">Refused records from {{.Node}}</h2>
<table>
<caption class="muted">The newest {{len (first .Refusals)}} of {{.RefusalCount}}, newest first</caption>
<thead><tr><th scope="col">When</th><th scope="col">Record</th><th scope="col">Code</th><th scope="col">Reason</th></tr></thead>
<tbody>
{{range first .Refusals}}<tr><td><time datetime="{{iso .At}}">{{.At.Format "2006-01-02 15:04:05"}}</time></td><td>{{.Name}}</td><td><code>{{.Code}}</code></td><td>{{.Reason}}</td></tr>
{{end}}
</tbody>
</table>
{{end}}{{end}}

{{if .Status.Erasures}}
<h2>Erasures</h2>
<table>
<caption class="muted">GDPR erasures, with the nodes that have not acknowledged purging them yet</caption>
<thead><tr><th scope="col">Entity</th><th scope="col">hub_seq</th><th scope="col">Erased by</th><th scope="col">State</th></tr></thead>
<tbody>
{{range .Status.Erasures}}<tr><td>{{.ID}}</td><td class="num">{{.HubSeq}}</td><td>{{if eq .By "hub"}}coordination team: {{.Reason}}{{else}}owner{{end}}</td><td>{{if .Complete}}complete{{else if .Pending}}waiting for {{range $i, $n := .Pending}}{{if $i}}, {{end}}{{$n}}{{end}}{{else}}flushing the hub's log{{end}}</td></tr>
{{end}}
</tbody>
</table>
{{end}}

{{if .Members}}
<h2>Gossip members</h2>
<table>
<caption class="muted">Every member this hub knows, itself included</caption>
<thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col">State</th><th scope="col">Address</th><th scope="col">Seq</th></tr></thead>
<tbody>
{{range .Members}}{{$b := badge (print .State)}}<tr><th scope="row">{{.Name}}</th><td>{{.Role}}</td>
<td><span class="badge {{index $b "class"}}"><span aria-hidden="true">{{index $b "symbol"}}</span> {{.State}}</span> <span class="muted">since {{ago $.Now .Since}}</span></td>
<td><code>{{.Addr}}</code></td><td class="num">{{.Seq}}</td></tr>
{{end}}
</tbody>
</table>
{{end}}
</main>
</body>
</html>{{end}}
`
