package hub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bikfed/bikfed/internal/gossip"
	"github.com/bikfed/bikfed/internal/privfile"
)

// The coordination team's view of the network is the hub's console, a
// separate package (hub/console) that the command wires in with SetConsole;
// the same data is JSON at GET /v1/status for scripts.
const (
	// PathConsole is where the console is mounted.
	PathConsole = "/console/"
	// pathConsoleSignIn is the console's sign-in form, which takes a
	// password from an unauthenticated client.
	pathConsoleSignIn = "/console/signin"
	// pathOldStatus is the old address of the network status, which
	// bookmarks may still hold.
	pathOldStatus = "/status"
	// consoleKeyFile holds the key of the console's form tokens.
	consoleKeyFile = "console.key"
)

// mountOps adds the operator routes: readiness, metrics and the console.
func (h *Hub) mountOps(mux *http.ServeMux) {
	mux.HandleFunc("GET /readyz", h.handleReady)
	mux.HandleFunc("GET /metrics", h.operator(h.handleMetrics().ServeHTTP))
	mux.HandleFunc("GET "+pathOldStatus, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, PathConsole, http.StatusMovedPermanently)
	})
	if h.console != nil {
		mux.Handle(PathConsole, h.console)
		mux.Handle(strings.TrimSuffix(PathConsole, "/"), http.RedirectHandler(PathConsole, http.StatusMovedPermanently))
	}
}

// SetConsole serves console at /console/; without it the hub has no
// console. Call it before Handler or Run.
func (h *Hub) SetConsole(console http.Handler) { h.console = console }

// ConsoleFormKey returns the key of the console's form tokens, kept in the
// data directory (0600) so that a form opened before a restart can still
// be sent after it.
func (h *Hub) ConsoleFormKey() ([]byte, error) {
	path := filepath.Join(h.cfg.DataDir, consoleKeyFile)
	if err := privfile.Restrict(path); err != nil {
		return nil, fmt.Errorf("console key: %w", err)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("console key %s: shorter than 32 bytes", path)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("console key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("console key: %w", err)
	}
	if err := writeSecretFile(path, key); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another opening of the data directory made it first.
			return h.ConsoleFormKey()
		}
		return nil, fmt.Errorf("console key: %w", err)
	}
	return key, nil
}

// ClientAddr is the address of the client behind r, by the hub's rules
// for trusted proxies.
func (h *Hub) ClientAddr(r *http.Request) netip.Addr { return h.limits.proxies.ClientAddr(r) }

// Secure reports whether people reach the hub over TLS, by its public URL.
func (h *Hub) Secure() bool { return strings.HasPrefix(h.cfg.PublicURL, "https:") }

// GossipEnabled reports whether the hub takes liveness from gossip.
func (h *Hub) GossipEnabled() bool { return h.cfg.Gossip.Enabled }

// LagSummary is one node's pull lag over the last 24 hours.
type LagSummary struct {
	Node                                     string
	Samples                                  int
	LatestSeconds, WorstSeconds, MeanSeconds float64
	LatestChanges, WorstChanges              int64
}

// LagReport is every node's pull lag over the last 24 hours: a chart and
// the same figures as text.
type LagReport struct {
	End      time.Time
	Interval time.Duration
	Summary  []LagSummary
	series   []lagSeries
}

// Lag reads the last 24 hours of lag samples.
func (h *Hub) Lag(ctx context.Context) (*LagReport, error) {
	now := h.now().UTC()
	series, err := h.lagHistorySince(ctx, now.Add(-lagHistory))
	if err != nil {
		return nil, err
	}
	rep := &LagReport{End: now, Interval: h.cfg.LagSampleInterval, series: series}
	for _, s := range summarise(series) {
		rep.Summary = append(rep.Summary, LagSummary(s))
	}
	return rep, nil
}

// ChartLabels are the words of the lag chart, in the reader's language.
type ChartLabels struct {
	Title, Desc   string // Desc may name {from} and {to}, filled in by the caller
	TimeAxis      string
	LagAxis       string
	Now           string
	HoursAgo      func(hours int) string
	Empty         string
	FormatSeconds func(float64) string
}

// DefaultChartLabels are the chart's English words.
func DefaultChartLabels() ChartLabels {
	return ChartLabels{
		Title:         "Pull lag of each node over the last 24 hours, in seconds",
		Desc:          "Line chart, one line per node. The table after the chart gives the same figures as text.",
		TimeAxis:      "time (UTC, hours before now)",
		LagAxis:       "pull lag",
		Now:           "now",
		HoursAgo:      func(h int) string { return fmt.Sprintf("−%dh", h) },
		Empty:         "No lag samples yet.",
		FormatSeconds: fmtSeconds,
	}
}

// Chart draws the report as an inline SVG with labels l.
func (r *LagReport) Chart(l ChartLabels) template.HTML {
	return lagChartSVG(r.series, r.End, r.Interval, l)
}

// Live states of a node, as NodeStatus.Live gives them.
const (
	LiveAlive  = string(gossip.StateAlive)
	LiveSilent = liveSilent
	LiveNever  = liveNever
)
