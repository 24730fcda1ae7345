package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/node"
)

// hubLimitFlags registers the hub's HTTP server limits (hub.LimitConfig).
func hubLimitFlags(s *settings, cfg *hub.LimitConfig) {
	s.fs.DurationVar(&cfg.HeaderTimeout, "header-timeout", cfg.HeaderTimeout, "longest a client may take to send a request's headers")
	s.fs.DurationVar(&cfg.ReadTimeout, "read-timeout", cfg.ReadTimeout, "longest an ordinary request may take from its headers to its answer")
	s.fs.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout, "longest writing an ordinary answer or a feed page may take")
	s.fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "how long a kept-alive connection may wait for its next request")
	s.fs.DurationVar(&cfg.TransferTimeout, "transfer-timeout", cfg.TransferTimeout, "longest a push or an attachment upload or download may take")
	s.fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", cfg.MaxHeaderBytes, "largest request headers accepted")
	s.fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "most open connections (lowered to fit the open-file limit)")
	s.fs.IntVar(&cfg.MaxConnsPerAddr, "max-conns-per-addr", cfg.MaxConnsPerAddr, "most open connections from one client address")
	s.fs.Float64Var(&cfg.PublicRate, "public-rate", cfg.PublicRate, "requests per second one address may send to the portal, public API, feeds, OAI-PMH and files (0: no limit)")
	s.fs.IntVar(&cfg.PublicBurst, "public-burst", cfg.PublicBurst, "requests one address may send at once above public-rate")
	s.fs.Float64Var(&cfg.SignInRate, "sign-in-rate", cfg.SignInRate, "enrolment and console sign-in attempts per minute from one address (0: no limit)")
	s.fs.IntVar(&cfg.SignInBurst, "sign-in-burst", cfg.SignInBurst, "sign-in attempts one address may make at once above sign-in-rate")
	s.fs.IntVar(&cfg.LongPollsPerCredential, "long-polls-per-credential", cfg.LongPollsPerCredential, "most long-polls one credential may hold open")
	s.fs.IntVar(&cfg.FeedPageBytes, "feed-page-bytes", cfg.FeedPageBytes, "largest changes feed page, before compression (a page holds at least one change)")
	s.fs.Var((*prefixList)(&cfg.TrustedProxies), "trusted-proxy", "address or CIDR of a reverse proxy whose X-Forwarded-For is believed (repeat, or separate with commas)")
}

// nodeLimitFlags registers the node's admin API limits (node.LimitConfig).
func nodeLimitFlags(s *settings, cfg *node.LimitConfig) {
	s.fs.DurationVar(&cfg.HeaderTimeout, "header-timeout", cfg.HeaderTimeout, "longest a client may take to send a request's headers")
	s.fs.DurationVar(&cfg.ReadTimeout, "read-timeout", cfg.ReadTimeout, "longest an ordinary request may take from its headers to its answer")
	s.fs.DurationVar(&cfg.WriteTimeout, "write-timeout", cfg.WriteTimeout, "longest writing an ordinary answer may take")
	s.fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "how long a kept-alive connection may wait for its next request")
	s.fs.DurationVar(&cfg.TransferTimeout, "transfer-timeout", cfg.TransferTimeout, "longest an import or an attachment upload or download may take")
	s.fs.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", cfg.MaxHeaderBytes, "largest request headers accepted")
	s.fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "most open connections (lowered to fit the open-file limit)")
}

// prefixList is a flag of addresses and CIDR prefixes.
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	if p == nil {
		return ""
	}
	parts := make([]string, len(*p))
	for i, pre := range *p {
		parts[i] = pre.String()
	}
	return strings.Join(parts, ",")
}

func (p *prefixList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if pre, err := netip.ParsePrefix(part); err == nil {
			*p = append(*p, pre.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return fmt.Errorf("%q is not an address or CIDR prefix", part)
		}
		a = a.Unmap()
		*p = append(*p, netip.PrefixFrom(a, a.BitLen()))
	}
	return nil
}
