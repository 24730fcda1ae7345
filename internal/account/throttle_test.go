package account

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottle_Prune(t *testing.T) {
	c := DefaultConfig(nodeRoles...)
	th := newThrottle()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for range 2 {
		th.fail("locked", now, 1, c)
	}
	for i := range maxStrikes + 10 {
		th.fail(fmt.Sprintf("fresh %d", i), now, 1, c)
	}
	if n := len(th.strikes); n > maxStrikes {
		t.Errorf("%d entries, want at most %d", n, maxStrikes)
	}
	if th.wait("locked", now) == 0 {
		t.Error("filling the table lifted a lock in force")
	}
}
