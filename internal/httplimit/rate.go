package httplimit

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxTracked bounds the addresses a RateLimiter remembers. Past it, the
// addresses that have been quiet long enough to have a full bucket are
// forgotten; if that is not enough, new addresses share one bucket until
// old ones go quiet, so a flood of addresses cannot grow memory.
const maxTracked = 100_000

// RateLimiter allows each client address a sustained rate of requests with
// a burst on top.
type RateLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu       sync.Mutex
	addrs    map[netip.Addr]*rate.Limiter
	overflow *rate.Limiter
	swept    time.Time
}

// NewRateLimiter allows perSecond requests a second with bursts of burst.
func NewRateLimiter(perSecond float64, burst int) *RateLimiter {
	return &RateLimiter{limit: rate.Limit(perSecond), burst: burst, now: time.Now,
		addrs: make(map[netip.Addr]*rate.Limiter), overflow: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// Allow takes one request of addr; when addr is over its rate, ok is false
// and retryAfter is when its next request would be allowed.
func (l *RateLimiter) Allow(addr netip.Addr) (ok bool, retryAfter time.Duration) {
	key := AddrKey(addr)
	now := l.now()
	l.mu.Lock()
	lim := l.addrs[key]
	if lim == nil {
		if len(l.addrs) >= maxTracked {
			l.sweepLocked(now)
		}
		if len(l.addrs) >= maxTracked {
			lim = l.overflow
		} else {
			lim = rate.NewLimiter(l.limit, l.burst)
			l.addrs[key] = lim
		}
	}
	l.mu.Unlock()
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweepLocked forgets addresses whose bucket has refilled: remembering them
// changes nothing. At most once a second, so a flood does not sweep at
// every request.
func (l *RateLimiter) sweepLocked(now time.Time) {
	if now.Sub(l.swept) < time.Second {
		return
	}
	l.swept = now
	for k, lim := range l.addrs {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.addrs, k)
		}
	}
}

// RetryAfterSeconds is d as a Retry-After value: whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}
