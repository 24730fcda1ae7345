package protocol

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Headers the hub sets on its answers (docs/protocol.md §9).
const (
	// HeaderHubTime is the hub's clock when it answered, RFC 3339 in UTC with
	// milliseconds. Nodes schedule publication by it.
	HeaderHubTime = "Bikfed-Hub-Time"
	// HeaderIncarnation is the hub's current incarnation: a random id it
	// draws at every start.
	HeaderIncarnation = "Bikfed-Hub-Incarnation"
	// HeaderLineageSeq answers a feed request that named an earlier
	// incarnation: the hub_seq up to which the hub's database holds what
	// that incarnation served.
	HeaderLineageSeq = "Bikfed-Lineage-Seq"
)

// hubTimeLayout is RFC 3339 with exactly three fractional digits.
const hubTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MaxIncarnationID bounds an incarnation id on the wire.
const MaxIncarnationID = 64

// ErrBadHubHeader is a hub header that cannot be read.
var ErrBadHubHeader = errors.New("bad hub header")

// FormatHubTime formats t for HeaderHubTime.
func FormatHubTime(t time.Time) string { return t.UTC().Format(hubTimeLayout) }

// ParseHubTime reads a HeaderHubTime value. Any RFC 3339 time is accepted;
// one more than a day away from the Unix era's plausible range is refused.
func ParseHubTime(s string) (time.Time, error) {
	if len(s) > 64 {
		return time.Time{}, ErrBadHubHeader
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return time.Time{}, ErrBadHubHeader
	}
	return t, nil
}

// parseLineageSeq reads a HeaderLineageSeq value.
func parseLineageSeq(s string) (int64, error) {
	if len(s) > 20 {
		return 0, ErrBadHubHeader
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, ErrBadHubHeader
	}
	return n, nil
}

// validIncarnation reports whether s may be an incarnation id: short, and
// printable ASCII without spaces.
func validIncarnation(s string) bool {
	if s == "" || len(s) > MaxIncarnationID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ClockOffset is the hub's clock minus ours, as measured from the latest
// answer that carried HeaderHubTime.
type ClockOffset struct {
	// Offset is hub time minus local time; add it to the local clock to get
	// the hub's.
	Offset time.Duration
	// MeasuredAt is the local time of the measurement; zero before any.
	MeasuredAt time.Time
}

// hubClock keeps the latest measurement.
type hubClock struct {
	offset atomic.Int64 // nanoseconds
	at     atomic.Int64 // local unix nanoseconds; 0 before any
	// now is the local clock.
	now func() time.Time
}

// observe takes a measurement from an answer whose headers arrived at recv.
// The hub stamps its clock when it starts answering (after a long-poll's
// wait, not before), so the answer's arrival is the closest local time: off
// by the one-way latency and the hub's work on the request, not by a
// long-poll's wait.
func (c *hubClock) observe(h http.Header, recv time.Time) {
	v := h.Get(HeaderHubTime)
	if v == "" {
		return
	}
	t, err := ParseHubTime(v)
	if err != nil {
		return
	}
	c.offset.Store(int64(t.Sub(recv)))
	c.at.Store(recv.UnixNano())
}

func (c *hubClock) get() ClockOffset {
	at := c.at.Load()
	if at == 0 {
		return ClockOffset{}
	}
	return ClockOffset{Offset: time.Duration(c.offset.Load()), MeasuredAt: time.Unix(0, at)}
}
