package hub

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/protocol"
)

// Blob directions for CountBlobBytes.
const (
	BlobIn  = "in"  // uploaded to the hub
	BlobOut = "out" // served by the hub
)

// hubMetrics are the hub's Prometheus metrics, on a registry of its own:
// there is no global registry, so two hubs in one process (tests) do not
// share counters. Gauges that describe state (lag, members) are computed
// when scraped, by hubCollector, so they are never stale.
type hubMetrics struct {
	reg       *prometheus.Registry
	batches   *prometheus.CounterVec
	applied   prometheus.Counter
	refused   *prometheus.CounterVec
	feed      prometheus.Histogram
	blobBytes *prometheus.CounterVec
	limited   *prometheus.CounterVec
}

func newHubMetrics(h *Hub) *hubMetrics {
	m := &hubMetrics{
		reg: prometheus.NewRegistry(),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bikfed_sync_batches_total",
			Help: "Push batches received, by result: ok, partial (some records refused), rejected (the whole batch refused, e.g. seq_gap) or error.",
		}, []string{"direction", "result"}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bikfed_changes_applied_total",
			Help: "Changes applied to the aggregate (each took a new hub_seq), pushed or authored by the hub.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bikfed_changes_refused_total",
			Help: "Pushed records refused, by error code.",
		}, []string{"direction", "code"}),
		feed: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bikfed_feed_request_seconds",
			Help:    "Time to answer a changes feed request, not counting a long-poll's wait for news.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		blobBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bikfed_blob_bytes_total",
			Help: "Attachment bytes uploaded to (in) and served by (out) the hub.",
		}, []string{"direction"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bikfed_http_limited_total",
			Help: "Requests and connections turned away by the server's limits, by reason: rate, sign_in, long_poll (429s), conn_refused (503s), conn_evicted (closed to make room).",
		}, []string{"reason"}),
	}
	for _, r := range []string{"rate", "sign_in", "long_poll", "conn_refused", "conn_evicted"} {
		m.limited.WithLabelValues(r)
	}
	// Series that exist from the start read as 0 rather than absent.
	for _, r := range []string{"ok", "partial", "rejected", "error"} {
		m.batches.WithLabelValues("push", r)
	}
	for _, c := range recordCodes() {
		m.refused.WithLabelValues("push", string(c))
	}
	m.blobBytes.WithLabelValues(BlobIn)
	m.blobBytes.WithLabelValues(BlobOut)
	m.reg.MustRegister(m.batches, m.applied, m.refused, m.feed, m.blobBytes, m.limited, newHubCollector(h),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// recordCodes are the codes one record of a batch can be refused with;
// their series exist from the start, so a dashboard shows 0, not nothing.
func recordCodes() []protocol.Code {
	return []protocol.Code{protocol.CodeMalformedJSON, protocol.CodeUnsupportedProtocol, protocol.CodeUnknownKind,
		protocol.CodeInvalidField, protocol.CodeBadSignature, protocol.CodeUnknownKey, protocol.CodeNotOwner,
		protocol.CodeStaleVersion, protocol.CodeVersionConflict, protocol.CodeRecordTooLarge,
		protocol.CodeBlobMissing, protocol.CodeBlobHashMismatch}
}

// observePush counts one push and its refused records.
func (m *hubMetrics) observePush(res *protocol.PushResult, err error) {
	var pe *protocol.Error
	switch {
	case err == nil && len(res.Refused) == 0:
		m.batches.WithLabelValues("push", "ok").Inc()
	case err == nil:
		m.batches.WithLabelValues("push", "partial").Inc()
	case errors.As(err, &pe):
		m.batches.WithLabelValues("push", "rejected").Inc()
		return
	default:
		m.batches.WithLabelValues("push", "error").Inc()
		return
	}
	for _, r := range res.Refused {
		m.refused.WithLabelValues("push", string(r.Code)).Inc()
	}
}

// observeFeed records a feed request's time, less its long-poll wait.
func (m *hubMetrics) observeFeed(start time.Time, waited *time.Duration) {
	m.feed.Observe(max(0, time.Since(start)-*waited).Seconds())
}

// CountBlobBytes adds n attachment bytes moved in direction (BlobIn or
// BlobOut) to bikfed_blob_bytes_total.
func (h *Hub) CountBlobBytes(direction string, n int64) {
	if n > 0 {
		h.ops.metrics.blobBytes.WithLabelValues(direction).Add(float64(n))
	}
}

// hubCollector reports state gauges at scrape time.
type hubCollector struct {
	h                                                 *Hub
	pullLag, pullLagSeconds, pushLag, members, hubSeq *prometheus.Desc
}

func newHubCollector(h *Hub) *hubCollector {
	return &hubCollector{
		h: h,
		pullLag: prometheus.NewDesc("bikfed_node_pull_lag",
			"Hub changes a node has not pulled yet.", []string{"node"}, nil),
		pullLagSeconds: prometheus.NewDesc("bikfed_node_pull_lag_seconds",
			"Age of the oldest hub change a node has not pulled yet.", []string{"node"}, nil),
		pushLag: prometheus.NewDesc("bikfed_node_push_lag",
			"Changes a node has written (as it reported in its last push or announced over gossip) that the hub has not received.", []string{"node"}, nil),
		members: newMembersDesc(),
		hubSeq:  prometheus.NewDesc("bikfed_hub_seq", "The hub's latest hub_seq.", nil, nil),
	}
}

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pullLag, c.pullLagSeconds, c.pushLag, c.members, c.hubSeq} {
		ch <- d
	}
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(c.h.ctx, 5*time.Second)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(c.hubSeq, prometheus.GaugeValue, float64(c.h.head.Load()))
	samples, err := c.h.lagSnapshot(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pullLag, err)
	}
	for _, s := range samples {
		ch <- prometheus.MustNewConstMetric(c.pullLag, prometheus.GaugeValue, float64(s.PullLag), s.Node)
		ch <- prometheus.MustNewConstMetric(c.pullLagSeconds, prometheus.GaugeValue, s.PullLagSeconds, s.Node)
		ch <- prometheus.MustNewConstMetric(c.pushLag, prometheus.GaugeValue, float64(s.PushLag), s.Node)
	}
	collectMembers(ch, c.members, c.h.GossipMembers())
}

func newMembersDesc() *prometheus.Desc {
	return prometheus.NewDesc("bikfed_gossip_members",
		"Gossip cluster members as this member sees them, itself included, by state (alive, dead, left).", []string{"state"}, nil)
}

// collectMembers reports the member count per state; every state is
// reported, zero included, so that an alert on dead > 0 has a series.
func collectMembers(ch chan<- prometheus.Metric, desc *prometheus.Desc, members []gossip.Member) {
	counts := map[gossip.State]int{gossip.StateAlive: 0, gossip.StateDead: 0, gossip.StateLeft: 0}
	for _, m := range members {
		counts[m.State]++
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), string(st))
	}
}

// handleMetrics is GET /metrics, for the operator token only: the metrics
// name every node and its health, which is not for the public.
func (h *Hub) handleMetrics() http.Handler {
	return promhttp.HandlerFor(h.ops.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      h.ops.metrics.reg,
	})
}

// readyCheck is one line of /readyz.
type readyCheck struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// handleReady is GET /readyz: 200 when the hub is serving (Run has started
// and is not shutting down) and its database answers, 503 otherwise. It is
// for load balancers and orchestrators; /healthz only says the process is
// up.
func (h *Hub) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := []readyCheck{{Name: "serving", OK: h.ops.serving.Load()}}
	if !checks[0].OK {
		checks[0].Error = "not serving (starting or shutting down)"
	}
	db := readyCheck{Name: "database", OK: true}
	var one int
	if err := h.db.Reader().QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		db.OK, db.Error = false, err.Error()
	}
	checks = append(checks, db)
	writeReady(w, checks)
}

func writeReady(w http.ResponseWriter, checks []readyCheck) {
	status, ready := http.StatusOK, true
	for _, c := range checks {
		if !c.OK {
			status, ready = http.StatusServiceUnavailable, false
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]any{"ready": ready, "checks": checks})
}
