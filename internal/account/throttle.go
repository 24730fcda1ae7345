package account

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// ThrottledError says how long to wait before the next sign-in attempt. It
// matches ErrThrottled.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-ins: try again in %v", e.RetryAfter.Round(time.Second))
}

func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// maxStrikes bounds the throttle's memory. Past it, entries that lock no
// one out are dropped first, so filling the table with fresh addresses
// does not lift a lock already in force.
const maxStrikes = 1 << 16

// throttle counts failed sign-ins per key (an email, a client address) in
// memory. Memory is enough: its purpose is to slow down guessing, which a
// restart interrupts as well, and it keeps failed attempts, which anyone
// can cause, from costing a database write beyond their audit entry.
type throttle struct {
	mu      sync.Mutex
	strikes map[string]*strike
}

type strike struct {
	failures int
	last     time.Time // of the last failure
	until    time.Time // locked out until then
}

func newThrottle() *throttle { return &throttle{strikes: make(map[string]*strike)} }

// wait returns how long key is still locked out.
func (t *throttle) wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st, ok := t.strikes[key]; ok && now.Before(st.until) {
		return st.until.Sub(now)
	}
	return 0
}

// fail records a failure of key; after free failures within window, each
// further one locks key out for base, doubled every time, up to max.
func (t *throttle) fail(key string, now time.Time, free int, c Config) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.strikes[key]
	if !ok {
		if len(t.strikes) >= maxStrikes {
			t.prune(now, c.ThrottleWindow)
		}
		st = &strike{}
		t.strikes[key] = st
	}
	if now.Sub(st.last) > c.ThrottleWindow {
		st.failures = 0
	}
	st.failures++
	st.last = now
	if over := st.failures - free; over > 0 {
		d := c.ThrottleMax
		if over <= 30 {
			d = min(c.ThrottleBase<<(over-1), c.ThrottleMax)
		}
		st.until = now.Add(d)
	}
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.strikes, key)
}

func (t *throttle) prune(now time.Time, window time.Duration) {
	for k, st := range t.strikes {
		if now.Sub(st.last) > window {
			delete(t.strikes, k)
		}
	}
	for k, st := range t.strikes {
		if len(t.strikes) < maxStrikes {
			return
		}
		if !now.Before(st.until) {
			delete(t.strikes, k)
		}
	}
}

// accountKey is clipped to the longest valid address so that the table's
// memory stays bounded whatever a client sends.
func accountKey(email string) string { return "email " + clip(normaliseEmail(email), 254) }

// addressKey groups IPv6 clients by /64, the block one subscriber usually
// has to themselves, or each could guess from endless addresses.
func addressKey(address string) string {
	a, err := netip.ParseAddr(address)
	if err != nil {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return "address " + clip(address, maxAddress)
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "address " + p.String()
	}
	return "address " + a.String()
}
