package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/protocol"
)

const (
	// lagHistory is what the chart shows; lagRetention is what is kept, a
	// little more so that the chart's left edge is never ragged.
	lagHistory   = 24 * time.Hour
	lagRetention = 25 * time.Hour
	// lagPruneEvery is how often expired samples are deleted.
	lagPruneEvery = 10 * time.Minute
	// lagColumns is how many points a line has at most: samples are binned,
	// keeping each bin's worst lag, so the page stays small at any interval.
	lagColumns = 288
)

// lagSample is one node's lag at one moment.
type lagSample struct {
	Node           string
	At             time.Time
	PullLag        int64
	PullLagSeconds float64
	PushLag        int64
}

// lagSnapshot measures every enrolled node's lag now: pull lag from the
// in-memory cursors against the head, its age from the oldest change not
// pulled, and push lag from the node's own report (or, fresher, its
// gossip announcement).
func (h *Hub) lagSnapshot(ctx context.Context) ([]lagSample, error) {
	now := h.now().UTC()
	head := h.head.Load()
	announced := map[string]gossip.Member{}
	for _, m := range h.GossipMembers() {
		announced[m.Name] = m
	}
	h.mu.Lock()
	out := make([]lagSample, 0, len(h.nodes))
	for id, n := range h.nodes {
		if id == protocol.HubID || !n.enrolled {
			continue
		}
		s := lagSample{Node: id, At: now, PullLag: max(0, head-n.pullCursor), PushLag: max(0, n.headSeq-n.appliedSeq)}
		if m, ok := announced[id]; ok && m.Role == gossip.RoleNode && m.Epoch == n.epoch {
			s.PushLag = max(s.PushLag, m.Seq-n.appliedSeq)
		}
		out = append(out, s)
	}
	cursors := make(map[int64]float64)
	for i := range out {
		if out[i].PullLag > 0 {
			cursors[head-out[i].PullLag] = 0
		}
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b lagSample) int { return strings.Compare(a.Node, b.Node) })

	// Nodes mostly share a handful of cursors; one indexed lookup each.
	for cursor := range cursors {
		var appliedAt int64
		err := h.db.Reader().QueryRowContext(ctx, `SELECT applied_at FROM entities WHERE hub_seq > ? ORDER BY hub_seq LIMIT 1`, cursor).Scan(&appliedAt)
		switch {
		case err == nil:
			cursors[cursor] = max(0, now.Sub(fromMillis(appliedAt)).Seconds())
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("lag snapshot: %w", err)
		}
	}
	for i := range out {
		if out[i].PullLag > 0 {
			out[i].PullLagSeconds = cursors[head-out[i].PullLag]
		}
	}
	return out, nil
}

// sampleLag records a lag snapshot every LagSampleInterval until done.
func (h *Hub) sampleLag(done <-chan struct{}) {
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(h.cfg.LagSampleInterval)
	defer t.Stop()
	for {
		if err := h.recordLag(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("record lag samples", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recordLag stores one snapshot and, now and then, forgets old samples.
func (h *Hub) recordLag(ctx context.Context) error {
	samples, err := h.lagSnapshot(ctx)
	if err != nil {
		return err
	}
	now := h.now()
	prune := now.Sub(h.ops.lastPrune) >= lagPruneEvery
	if len(samples) == 0 && !prune {
		return nil
	}
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO lag_samples (node, at, pull_lag, pull_lag_seconds, push_lag)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (node, at) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, s := range samples {
			if _, err := stmt.ExecContext(ctx, s.Node, toMillis(s.At), s.PullLag, s.PullLagSeconds, s.PushLag); err != nil {
				return err
			}
		}
		if prune {
			if _, err := tx.ExecContext(ctx, `DELETE FROM lag_samples WHERE at < ?`, toMillis(now.Add(-lagRetention))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record lag: %w", err)
	}
	if prune {
		h.ops.lastPrune = now
	}
	return nil
}

// lagSeries is one node's line on the chart.
type lagSeries struct {
	Node    string
	Samples []lagSample
}

// lagHistorySince reads every node's samples from since on, by node then time.
func (h *Hub) lagHistorySince(ctx context.Context, since time.Time) ([]lagSeries, error) {
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT node, at, pull_lag, pull_lag_seconds, push_lag FROM lag_samples
		WHERE at >= ? ORDER BY node, at`, toMillis(since))
	if err != nil {
		return nil, fmt.Errorf("read lag history: %w", err)
	}
	defer rows.Close()
	var out []lagSeries
	for rows.Next() {
		var s lagSample
		var at int64
		if err := rows.Scan(&s.Node, &at, &s.PullLag, &s.PullLagSeconds, &s.PushLag); err != nil {
			return nil, fmt.Errorf("read lag history: %w", err)
		}
		s.At = fromMillis(at)
		if len(out) == 0 || out[len(out)-1].Node != s.Node {
			out = append(out, lagSeries{Node: s.Node})
		}
		out[len(out)-1].Samples = append(out[len(out)-1].Samples, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lag history: %w", err)
	}
	return out, nil
}

// lagSummary is a node's row in the chart's text alternative.
type lagSummary struct {
	Node                                     string
	Samples                                  int
	LatestSeconds, WorstSeconds, MeanSeconds float64
	LatestChanges, WorstChanges              int64
}

func summarise(series []lagSeries) []lagSummary {
	out := make([]lagSummary, 0, len(series))
	for _, s := range series {
		if len(s.Samples) == 0 {
			continue
		}
		sum := lagSummary{Node: s.Node, Samples: len(s.Samples)}
		var total float64
		for _, x := range s.Samples {
			total += x.PullLagSeconds
			sum.WorstSeconds = max(sum.WorstSeconds, x.PullLagSeconds)
			sum.WorstChanges = max(sum.WorstChanges, x.PullLag)
		}
		last := s.Samples[len(s.Samples)-1]
		sum.LatestSeconds, sum.LatestChanges = last.PullLagSeconds, last.PullLag
		sum.MeanSeconds = total / float64(len(s.Samples))
		out = append(out, sum)
	}
	return out
}

// Chart geometry, in SVG user units; the SVG scales to its container.
const (
	chartW, chartH = 760, 300
	plotL, plotR   = 64, 640 // the legend sits right of the plot
	plotT, plotB   = 16, 256
)

// chartStyles pairs a colour with a dash pattern, so that lines can be told
// apart without colour (WCAG 1.4.1). The colours are the Okabe-Ito palette,
// chosen to stay distinct under the common colour-vision deficiencies.
var chartStyles = []struct{ colour, dash string }{
	{"#0072B2", ""},
	{"#D55E00", "8 4"},
	{"#009E73", "2 3"},
	{"#CC79A7", "10 3 2 3"},
	{"#E69F00", "4 4"},
	{"#56B4E9", "12 4 4 4"},
	{"#000000", "1 4"},
	{"#F0E442", "6 2 2 2 2 2"},
}

// lagChartSVG renders each node's pull lag in seconds over [end-24h, end]
// as an inline SVG: axes with labelled ticks, one polyline per node with a
// <title>, a legend, and a title and description for assistive technology.
// Gaps in the samples (the hub was down) break the line rather than
// bridging it.
func lagChartSVG(series []lagSeries, end time.Time, interval time.Duration, l ChartLabels) template.HTML {
	start := end.Add(-lagHistory)
	worst := 0.0
	for _, s := range series {
		for _, x := range s.Samples {
			if !x.At.Before(start) {
				worst = max(worst, x.PullLagSeconds)
			}
		}
	}
	top, step := niceScale(worst)
	x := func(t time.Time) float64 {
		return plotL + float64(plotR-plotL)*t.Sub(start).Seconds()/lagHistory.Seconds()
	}
	y := func(v float64) float64 { return plotB - float64(plotB-plotT)*min(v, top)/top }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="lag-title lag-desc" class="chart">`, chartW, chartH)
	fmt.Fprintf(&b, `<title id="lag-title">%s</title>`, template.HTMLEscapeString(l.Title))
	fmt.Fprintf(&b, `<desc id="lag-desc">%s</desc>`, template.HTMLEscapeString(l.Desc))

	// Axes and grid.
	b.WriteString(`<g class="axes" font-size="11" fill="#333">`)
	for v := 0.0; v <= top+step/2; v += step {
		yy := y(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, plotL, plotR, yy, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, plotL-6, yy, template.HTMLEscapeString(l.FormatSeconds(v)))
	}
	for hrs := 0; hrs <= 24; hrs += 4 {
		t := start.Add(time.Duration(hrs) * time.Hour)
		xx := x(t)
		label := l.Now
		if hrs < 24 {
			label = l.HoursAgo(24 - hrs)
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#999"/>`, xx, xx, plotB, plotB+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, xx, plotB+16, template.HTMLEscapeString(label))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`, plotL, plotR, plotB, plotB)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`, plotL, plotL, plotT, plotB)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, (plotL+plotR)/2, plotB+34, template.HTMLEscapeString(l.TimeAxis))
	fmt.Fprintf(&b, `<text transform="translate(14 %d) rotate(-90)" text-anchor="middle">%s</text>`, (plotT+plotB)/2, template.HTMLEscapeString(l.LagAxis))
	b.WriteString(`</g>`)

	if len(series) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="13">%s</text>`, (plotL+plotR)/2, (plotT+plotB)/2, template.HTMLEscapeString(l.Empty))
	}
	// A gap longer than a few sample intervals is an outage of the sampler.
	gap := max(3*interval, lagHistory/lagColumns*2)
	for i, s := range series {
		st := chartStyles[i%len(chartStyles)]
		dash := ""
		if st.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, st.dash)
		}
		fmt.Fprintf(&b, `<g class="series"><title>%s</title>`, template.HTMLEscapeString(s.Node))
		for _, run := range binned(s.Samples, start, gap) {
			var pts strings.Builder
			for _, p := range run {
				fmt.Fprintf(&pts, "%.1f,%.1f ", x(p.At), y(p.PullLagSeconds))
			}
			if len(run) == 1 {
				p := run[0]
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, x(p.At), y(p.PullLagSeconds), st.colour)
				continue
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, st.colour, dash, strings.TrimSpace(pts.String()))
		}
		// Legend entry: a sample of the line and the node id.
		ly := plotT + 6 + i*18
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, plotR+16, plotR+44, ly, ly, st.colour, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" dominant-baseline="middle">%s</text></g>`, plotR+50, ly, template.HTMLEscapeString(s.Node))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// binned reduces samples to at most lagColumns points over the 24 hours,
// keeping the worst lag of each bin, and splits them where the gap between
// consecutive points exceeds gap.
func binned(samples []lagSample, start time.Time, gap time.Duration) [][]lagSample {
	width := lagHistory / lagColumns
	var pts []lagSample
	for _, s := range samples {
		if s.At.Before(start) {
			continue
		}
		bin := s.At.Sub(start) / width
		if n := len(pts); n > 0 && pts[n-1].At.Sub(start)/width == bin {
			if s.PullLagSeconds > pts[n-1].PullLagSeconds {
				pts[n-1].PullLagSeconds = s.PullLagSeconds
			}
			continue
		}
		pts = append(pts, s)
	}
	var runs [][]lagSample
	for i, p := range pts {
		if i == 0 || p.At.Sub(pts[i-1].At) > gap {
			runs = append(runs, nil)
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], p)
	}
	return runs
}

// niceScale returns an axis maximum at or above v and a tick step that
// divides it into at most five round intervals.
func niceScale(v float64) (top, step float64) {
	if v <= 1 {
		return 1, 0.25
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	// Minutes and hours read better on a time axis.
	for _, s := range []float64{60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600} {
		if step > s/2 && step <= s {
			step = s
			break
		}
	}
	return math.Ceil(v/step) * step, step
}

// fmtSeconds formats a lag for a label: "0 s", "45 s", "12 min", "3.5 h".
func fmtSeconds(v float64) string {
	switch {
	case v < 1 && v > 0:
		return strconv.FormatFloat(v, 'f', 2, 64) + " s"
	case v < 120:
		return strconv.FormatFloat(v, 'f', -1, 64) + " s"
	case v < 2*3600:
		return strconv.FormatFloat(math.Round(v/6)/10, 'f', -1, 64) + " min"
	}
	return strconv.FormatFloat(math.Round(v/360)/10, 'f', -1, 64) + " h"
}
