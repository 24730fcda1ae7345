package console

import (
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/protocol"
)

// maxRefusalsShown is how many of a node's refusals a page lists; the
// JSON status keeps a few more.
const maxRefusalsShown = 10

type overviewPage struct {
	At        time.Time
	Counts    string
	Attention []string
	Nodes     []nodeRow
	Chart     template.HTML
	Lag       []lagRow
	Refusals  []refusalGroup
	Waiting   []erasureRow
	// SeeErasures links to the erasures page for those who may open it.
	SeeErasures bool
	Gossip      bool
	GossipLine  string
	Members     []gossipRow
	Operator    bool
	Mirrors     []mirrorRow
}

// mirrorRow is a portal mirror as the overview shows it.
type mirrorRow struct {
	Name, LiveText, LiveClass, LastPull, Lag string
}

// nodeRow is a node as the overview and its own page show it: every text
// already in the reader's language.
type nodeRow struct {
	ID, Name         string
	State            string // suspended, removed, not enrolled; "" when none applies
	Live             string // the raw state, for the badge's class and for scripts
	LiveText         string
	LiveClass        string
	LiveDetail       string
	LastPush         string
	LastPull         string
	LastSuccess      string
	PullLag, PushLag string
	Ahead            string // the cursor past the hub's head, said in words
	Refused          int
	Epoch, Version   string
	Entities         int
	Suspended        bool
	Removed          bool
	Enrolled         bool
}

type lagRow struct {
	Node, Latest, Worst, Mean string
	Samples                   int
}

type refusalGroup struct {
	Node  string
	Count int
	Shown int
	Items []refusalRow
}

type refusalRow struct {
	At, Record, Code, Plain, Reason string
}

type gossipRow struct {
	Name, Role, State, StateClass, Since, Addr string
	Seq                                        int64
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := web.Printer(r)
	st, err := c.hub.NetworkStatus(ctx)
	if err != nil {
		c.fail(w, r, "read network status", err)
		return
	}
	lag, err := c.hub.Lag(ctx)
	if err != nil {
		c.fail(w, r, "read lag history", err)
		return
	}
	now := time.Now()
	me := signedIn(r)
	page := overviewPage{
		At:          now.UTC(),
		Counts:      p.T("console.overview.counts", "nodes", p.N("console.count.nodes", len(st.Nodes)), "entities", p.N("console.count.entities", st.Entities), "seq", st.HubSeq),
		Chart:       lag.Chart(chartLabels(p, lag)),
		SeeErasures: me.HasAnyRole(hub.RoleOperator, hub.RoleCoordinator),
		Gossip:      c.hub.GossipEnabled(),
		Operator:    me.HasRole(hub.RoleOperator),
	}
	for _, n := range st.Nodes {
		row := nodeView(p, n, now)
		page.Nodes = append(page.Nodes, row)
		page.Attention = append(page.Attention, attention(p, n, row)...)
		if len(n.Refusals) > 0 {
			page.Refusals = append(page.Refusals, refusalsOf(p, n))
		}
	}
	for _, e := range st.Erasures {
		if !e.Complete {
			page.Waiting = append(page.Waiting, erasureView(p, e))
		}
	}
	if len(page.Waiting) > 0 {
		page.Attention = append(page.Attention, p.N("console.attention.erasures", len(page.Waiting)))
	}
	for _, s := range lag.Summary {
		page.Lag = append(page.Lag, lagRow{Node: s.Node, Samples: s.Samples,
			Latest: p.T("console.lag.value", "time", seconds(p, s.LatestSeconds), "changes", p.N("console.count.changes", int(s.LatestChanges))),
			Worst:  p.T("console.lag.value", "time", seconds(p, s.WorstSeconds), "changes", p.N("console.count.changes", int(s.WorstChanges))),
			Mean:   seconds(p, s.MeanSeconds)})
	}
	for _, m := range c.hub.Mirrors() {
		row := mirrorRow{Name: m.Name, LastPull: when(p, m.LastPullAt, now), Lag: p.T("console.nothing")}
		live := hub.LiveSilent
		switch {
		case m.LastPullAt == nil:
			live = hub.LiveNever
		case m.Live:
			live = hub.LiveAlive
		}
		row.LiveText, row.LiveClass = liveWords(p, live)
		if m.Lag > 0 {
			row.Lag = p.N("console.count.changes", int(m.Lag))
		}
		if m.LastPullAt != nil && !m.Live {
			page.Attention = append(page.Attention, p.T("console.attention.mirror_silent", "mirror", m.Name))
		}
		page.Mirrors = append(page.Mirrors, row)
	}
	alive, down := 0, 0
	for _, m := range c.hub.GossipMembers() {
		cls := "bad"
		if m.State == gossip.StateAlive {
			alive++
			cls = "ok"
		} else {
			down++
		}
		page.Members = append(page.Members, gossipRow{Name: m.Name, Role: string(m.Role), State: p.T("console.live." + string(m.State)),
			StateClass: cls, Since: p.Ago(now.Sub(m.Since)), Addr: m.Addr, Seq: m.Seq})
	}
	if page.Gossip {
		page.GossipLine = p.T("console.gossip.on", "alive", p.N("console.count.alive", alive), "down", p.N("console.count.down", down))
	}
	c.pages.RenderIn(w, r, http.StatusOK, "overview", "overview", page)
}

// nodeView puts a node's status into words.
func nodeView(p *locale.Printer, n protocol.NodeStatus, now time.Time) nodeRow {
	row := nodeRow{ID: n.Node, Name: n.Name, Live: n.Live, Refused: n.RefusalCount, Epoch: n.Epoch,
		Entities: n.Entities, Suspended: n.Suspended, Removed: n.Removed, Enrolled: n.Enrolled}
	switch {
	case n.Removed:
		row.State = p.T("console.node.state.removed")
	case n.Suspended:
		row.State = p.T("console.node.state.suspended")
	case !n.Enrolled:
		row.State = p.T("console.node.state.not_enrolled")
	}
	row.LiveText, row.LiveClass = liveWords(p, n.Live)
	if n.LiveSince != nil {
		if n.LiveSource == "gossip" {
			row.LiveDetail = p.T("console.live.by_gossip", "since", p.Ago(now.Sub(*n.LiveSince)))
		} else {
			row.LiveDetail = p.T("console.live.by_contact", "since", p.Ago(now.Sub(*n.LiveSince)))
		}
	}
	row.LastPush, row.LastPull, row.LastSuccess = when(p, n.LastPushAt, now), when(p, n.LastPullAt, now), when(p, n.LastSuccessAt, now)
	row.PullLag, row.PushLag = p.T("console.nothing"), p.T("console.nothing")
	if n.PullLag > 0 {
		row.PullLag = p.T("console.lag.value", "time", seconds(p, n.PullLagSeconds), "changes", p.N("console.count.changes", int(n.PullLag)))
	}
	if n.PushLag > 0 {
		row.PushLag = p.N("console.count.changes", int(n.PushLag))
	}
	if n.CursorAhead > 0 {
		row.Ahead = p.N("console.node.ahead", int(n.CursorAhead))
	}
	if n.Version > 0 {
		row.Version = strconv.Itoa(n.Version)
	}
	return row
}

// liveWords gives a liveness its words and a class; the words always
// show, so colour is never the only signal.
func liveWords(p *locale.Printer, live string) (string, string) {
	switch live {
	case hub.LiveAlive:
		return p.T("console.live.alive"), "ok"
	case string(gossip.StateLeft), hub.LiveNever:
		return p.T("console.live." + live), "idle"
	case "":
		return p.T("console.live.unknown"), "idle"
	}
	if live == hub.LiveSilent || live == string(gossip.StateDead) {
		return p.T("console.live." + live), "bad"
	}
	return live, "bad"
}

// attention lists, in plain words, what about a node someone should look
// at.
func attention(p *locale.Printer, n protocol.NodeStatus, row nodeRow) []string {
	if n.Removed {
		return nil
	}
	var out []string
	name := n.Name
	if name == "" {
		name = n.Node
	}
	switch {
	case n.Suspended:
		out = append(out, p.T("console.attention.suspended", "node", name))
	case (n.Live == hub.LiveSilent || n.Live == string(gossip.StateDead)) && row.LastSuccess == "":
		out = append(out, p.T("console.attention.silent_unknown", "node", name))
	case n.Live == hub.LiveSilent || n.Live == string(gossip.StateDead):
		out = append(out, p.T("console.attention.silent", "node", name, "since", row.LastSuccess))
	case n.Live == hub.LiveNever && n.Enrolled:
		out = append(out, p.T("console.attention.never", "node", name))
	case !n.Enrolled:
		out = append(out, p.T("console.attention.not_enrolled", "node", name))
	}
	if n.CursorAhead > 0 {
		out = append(out, p.N("console.attention.ahead", int(n.CursorAhead), "node", name))
	}
	if n.PullLagSeconds >= behindSeconds {
		out = append(out, p.T("console.attention.behind", "node", name, "time", seconds(p, n.PullLagSeconds)))
	}
	if n.RefusalCount > 0 {
		out = append(out, p.N("console.attention.refused", n.RefusalCount, "node", name))
	}
	return out
}

// behindSeconds is how old the oldest change a node has not pulled may be
// before the overview calls the node behind: nodes pull within seconds
// when they are up.
const behindSeconds = 3600

func when(p *locale.Printer, t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return p.Ago(now.Sub(*t))
}

// refusalCodes are the codes a refusal is explained for in plain words;
// any other code gets a general explanation.
var refusalCodes = map[protocol.Code]bool{
	protocol.CodeInvalidField: true, protocol.CodeUnknownKind: true, protocol.CodeBadSignature: true,
	protocol.CodeUnknownKey: true, protocol.CodeNotOwner: true, protocol.CodeStaleVersion: true,
	protocol.CodeVersionConflict: true, protocol.CodeRecordTooLarge: true, protocol.CodeBlobMissing: true,
	protocol.CodeBlobHashMismatch: true, protocol.CodeQuotaExceeded: true, protocol.CodeCountryNotAllowed: true,
	protocol.CodeCountryTaken: true, protocol.CodeVisibilityMismatch: true, protocol.CodeInvalidSource: true,
	protocol.CodeErased: true,
}

func plainRefusal(p *locale.Printer, code protocol.Code) string {
	if refusalCodes[code] {
		return p.T("console.refusal." + string(code))
	}
	return p.T("console.refusal.other")
}

func refusalsOf(p *locale.Printer, n protocol.NodeStatus) refusalGroup {
	g := refusalGroup{Node: n.Node, Count: n.RefusalCount}
	for _, rf := range n.Refusals[:min(len(n.Refusals), maxRefusalsShown)] {
		g.Items = append(g.Items, refusalRow{At: p.DateTime(rf.At.UTC()), Record: rf.Name(), Code: string(rf.Code),
			Plain: plainRefusal(p, rf.Code), Reason: rf.Reason})
	}
	g.Shown = len(g.Items)
	return g
}

// seconds writes a lag in its largest whole unit; under a second is
// "0 seconds".
func seconds(p *locale.Printer, v float64) string {
	if v < 1 {
		return p.N("time.seconds", 0)
	}
	return p.Duration(time.Duration(v * float64(time.Second)))
}

// chartLabels are the lag chart's words in the reader's language.
func chartLabels(p *locale.Printer, lag *hub.LagReport) hub.ChartLabels {
	start := lag.End.Add(-24 * time.Hour)
	return hub.ChartLabels{
		Title:         p.T("console.lag.chart.title"),
		Desc:          p.T("console.lag.chart.desc", "from", p.DateTime(start), "to", p.DateTime(lag.End)),
		TimeAxis:      p.T("console.lag.chart.time_axis"),
		LagAxis:       p.T("console.lag.chart.lag_axis"),
		Now:           p.T("console.lag.chart.now"),
		HoursAgo:      func(h int) string { return p.T("console.lag.chart.hours_ago", "hours", h) },
		Empty:         p.T("console.lag.chart.empty"),
		FormatSeconds: func(v float64) string { return axisSeconds(p, v) },
	}
}

// axisSeconds writes an axis label: "45 s", "10 min", "3.5 h", with the
// language's decimal mark.
func axisSeconds(p *locale.Printer, v float64) string {
	unit, x := "s", v
	switch {
	case v >= 2*3600:
		unit, x = "h", math.Round(v/360)/10
	case v >= 120:
		unit, x = "min", math.Round(v/6)/10
	}
	num := strconv.FormatFloat(x, 'f', -1, 64)
	if v > 0 && v < 1 {
		num = strconv.FormatFloat(x, 'f', 2, 64)
	}
	num = strings.Replace(num, ".", p.T("console.number.decimal"), 1)
	return p.T("console.unit."+unit, "value", num)
}
