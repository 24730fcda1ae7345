package node

import (
	"context"
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
	BlobIn  = "in"  // fetched from the hub
	BlobOut = "out" // uploaded to the hub
)

// Operator routes on the admin listener.
const (
	PathReady   = "/readyz"
	PathMetrics = "/metrics"
)

// nodeMetrics are the node's Prometheus metrics, on a registry of its own
// (no global registry: two nodes in one process keep their own counts).
// State gauges are computed at scrape time by nodeCollector.
type nodeMetrics struct {
	reg       *prometheus.Registry
	batches   *prometheus.CounterVec
	applied   prometheus.Counter
	refused   *prometheus.CounterVec
	hints     prometheus.Counter
	blobBytes *prometheus.CounterVec
	// echoes counts own changes a pull skipped as the hub sent them back.
	echoes prometheus.Counter
}

func newNodeMetrics(n *Node) *nodeMetrics {
	m := &nodeMetrics{
		reg: prometheus.NewRegistry(),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bikfed_sync_batches_total",
			Help: "Push batches sent and non-empty feed pages applied, by direction (push, pull) and result (ok, partial: some records refused, error).",
		}, []string{"direction", "result"}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bikfed_changes_applied_total",
			Help: "Pulled changes applied to this node's copy.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bikfed_changes_refused_total",
			Help: "Changes refused, by direction (push: the hub refused ours; pull: we refused a pulled one) and error code.",
		}, []string{"direction", "code"}),
		hints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bikfed_gossip_hinted_pulls_total",
			Help: "Pulls started because the hub announced new changes over gossip.",
		}),
		blobBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bikfed_blob_bytes_total",
			Help: "Attachment bytes fetched from (in) and uploaded to (out) the hub.",
		}, []string{"direction"}),
		echoes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bikfed_pull_echoes_total",
			Help: "Own changes the feed brought back as they were pushed, skipped by the pull without verifying or applying them again.",
		}),
	}
	for _, d := range []string{"push", "pull"} {
		for _, r := range []string{"ok", "partial", "error"} {
			m.batches.WithLabelValues(d, r)
		}
	}
	for _, c := range []protocol.Code{protocol.CodeInvalidField, protocol.CodeBadSignature, protocol.CodeUnknownKey,
		protocol.CodeNotOwner, protocol.CodeStaleVersion, protocol.CodeVersionConflict, protocol.CodeRecordTooLarge} {
		m.refused.WithLabelValues("push", string(c))
		m.refused.WithLabelValues("pull", string(c))
	}
	m.blobBytes.WithLabelValues(BlobIn)
	m.blobBytes.WithLabelValues(BlobOut)
	m.reg.MustRegister(m.batches, m.applied, m.refused, m.hints, m.blobBytes, m.echoes, newNodeCollector(n),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// pushed counts one acknowledged push batch.
func (m *nodeMetrics) pushed(res *protocol.PushResult) {
	result := "ok"
	if len(res.Refused) > 0 {
		result = "partial"
	}
	m.batches.WithLabelValues("push", result).Inc()
	for _, r := range res.Refused {
		m.refused.WithLabelValues("push", string(r.Code)).Inc()
	}
}

// pulled counts one applied feed page; empty pages (an idle long-poll
// answering) are not batches.
func (m *nodeMetrics) pulled(changes, applied int, refused []protocol.Refusal) {
	if changes == 0 {
		return
	}
	result := "ok"
	if len(refused) > 0 {
		result = "partial"
	}
	m.batches.WithLabelValues("pull", result).Inc()
	m.applied.Add(float64(applied))
	for _, r := range refused {
		m.refused.WithLabelValues("pull", string(r.Code)).Inc()
	}
}

// failed counts a failed push or pull ("push" or "pull").
func (m *nodeMetrics) failed(direction string) {
	m.batches.WithLabelValues(direction, "error").Inc()
}

// CountBlobBytes adds n attachment bytes moved in direction (BlobIn or
// BlobOut) to bikfed_blob_bytes_total.
func (n *Node) CountBlobBytes(direction string, bytes int64) {
	if bytes > 0 {
		n.ops.metrics.blobBytes.WithLabelValues(direction).Add(float64(bytes))
	}
}

// nodeCollector reports the node's sync state at scrape time, from the
// database, so the figures match the status page exactly.
type nodeCollector struct {
	n                                      *Node
	pullLag, pushLag, lastSuccess, members *prometheus.Desc
}

func newNodeCollector(n *Node) *nodeCollector {
	return &nodeCollector{
		n: n,
		pullLag: prometheus.NewDesc("bikfed_node_pull_lag",
			"Hub changes this node has not pulled yet, against the hub_seq it last saw.", []string{"node"}, nil),
		pushLag: prometheus.NewDesc("bikfed_node_push_lag",
			"Changes in this node's outbox the hub has not acknowledged.", []string{"node"}, nil),
		lastSuccess: prometheus.NewDesc("bikfed_last_sync_success_timestamp_seconds",
			"When the last push or pull succeeded, as a Unix time.", []string{"direction"}, nil),
		members: prometheus.NewDesc("bikfed_gossip_members",
			"Gossip cluster members as this member sees them, itself included, by state (alive, dead, left).", []string{"state"}, nil),
	}
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pullLag, c.pushLag, c.lastSuccess, c.members} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id := c.n.ident.Node
	st, err := readSyncState(ctx, c.n.db.Reader())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pullLag, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.pullLag, prometheus.GaugeValue, float64(max(0, st.HubSeq-st.PullCursor)), id)
		ch <- prometheus.MustNewConstMetric(c.pushLag, prometheus.GaugeValue, float64(max(0, st.HeadSeq-st.PushCheckpoint)), id)
		for dir, t := range map[string]*time.Time{"push": st.LastPushAt, "pull": st.LastPullAt} {
			if t != nil {
				ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, float64(t.UnixMilli())/1000, dir)
			}
		}
	}
	counts := map[gossip.State]int{gossip.StateAlive: 0, gossip.StateDead: 0, gossip.StateLeft: 0}
	for _, m := range c.n.GossipMembers() {
		counts[m.State]++
	}
	for st, k := range counts {
		ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(k), string(st))
	}
}

// mountOps adds /readyz (open, like /healthz) and /metrics (admin token).
func (n *Node) mountOps(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathReady, n.handleReady)
	mux.Handle("GET "+PathMetrics, n.auth(promhttp.HandlerFor(n.ops.metrics.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      n.ops.metrics.reg,
	}).ServeHTTP))
}

// readyCheck is one line of /readyz.
type readyCheck struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// handleReady is GET /readyz: 200 when the database answers and neither
// push nor pull has been failing for longer than ReadyMaxSyncFailure, 503
// otherwise. A node keeps working offline, so a failing sync does not make
// it unhealthy (/healthz), only "not in step with the network".
func (n *Node) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := []readyCheck{{Name: "database", OK: true}}
	st, err := readSyncState(ctx, n.db.Reader())
	if err != nil {
		checks[0].OK, checks[0].Error = false, err.Error()
	} else {
		now := time.Now()
		checks = append(checks,
			syncCheck("push", st.LastPushError, st.LastPushAt, st.EpochStartedAt, now, n.cfg.ReadyMaxSyncFailure),
			syncCheck("pull", st.LastPullError, st.LastPullAt, st.EpochStartedAt, now, n.cfg.ReadyMaxSyncFailure))
	}
	status, ready := http.StatusOK, true
	for _, c := range checks {
		if !c.OK {
			status, ready = http.StatusServiceUnavailable, false
		}
	}
	writeJSON(w, status, map[string]any{"ready": ready, "node": n.ident.Node, "checks": checks})
}

// syncCheck fails when the last attempt failed and the last success (or,
// never having succeeded, the epoch's start) is older than limit: the
// direction has then been failing for at least that long.
func syncCheck(name, lastErr string, lastOK *time.Time, epochStart, now time.Time, limit time.Duration) readyCheck {
	c := readyCheck{Name: name, OK: true}
	if lastErr == "" {
		return c
	}
	since := epochStart
	if lastOK != nil {
		since = *lastOK
	}
	if failing := now.Sub(since); failing > limit {
		c.OK = false
		c.Error = "failing for " + failing.Round(time.Second).String() + ": " + lastErr
	}
	return c
}
