package httplimit

import (
	"net/http"
	"net/netip"
	"strings"
)

// AddrKey is the address limits count against: an IPv4 address, or the /64
// an IPv6 address is in (one subscriber's network).
func AddrKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

// Proxies is a list of trusted reverse proxies.
type Proxies []netip.Prefix

// Contains reports whether a is one of the proxies.
func (p Proxies) Contains(a netip.Addr) bool {
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr is the address of the client that sent r. Behind a trusted
// proxy it is the last address of X-Forwarded-For that is not a trusted
// proxy itself; anything further left was written by the client and proves
// nothing.
func (p Proxies) ClientAddr(r *http.Request) netip.Addr {
	a := addrOf(r.RemoteAddr)
	if !p.Contains(a) {
		return a
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			h, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return a
			}
			h = h.Unmap()
			if !p.Contains(h) {
				return h
			}
			a = h
		}
	}
	return a
}

func addrOf(hostport string) netip.Addr {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(hostport)
	return a.Unmap()
}
