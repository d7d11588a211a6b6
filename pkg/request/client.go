package request

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Forwarding headers a trusted proxy may append the client's address to.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239, its for= parameter
)

// ClientOptions say whom to believe about a request's client address.
type ClientOptions struct {
	// TrustedProxies are the peers whose forwarding header is read; empty:
	// none is, the peer is the client.
	TrustedProxies []netip.Prefix
	// Header is the one forwarding header the trusted proxies append to:
	// HeaderXForwardedFor (the default) or HeaderForwarded. Only one is
	// read: a proxy that appends to one passes the other through as the
	// client wrote it.
	Header string
}

// maxHops bounds the forwarding entries read, from the right.
const maxHops = 32

// ClientAddr is the address of r's client: the connection's peer, unless
// the peer is a trusted proxy; then the forwarding header is read from the
// right (the entry the nearest proxy appended) leftwards, over trusted
// proxies, to the first address that is not one. An entry that is not an
// address stops the walk at the trusted proxy that appended it, so a
// client that cannot be named is counted as that proxy, never as whatever
// it wrote itself.
func (o ClientOptions) ClientAddr(r *http.Request) netip.Addr {
	client := peerAddr(r.RemoteAddr)
	if !client.IsValid() || !o.trusted(client) {
		return client
	}
	hops := o.hops(r.Header)
	for i := len(hops) - 1; i >= 0 && len(hops)-i <= maxHops; i-- {
		a, ok := parseHop(hops[i], o.header() == HeaderForwarded)
		if !ok {
			return client
		}
		client = a
		if !o.trusted(a) {
			return client
		}
	}
	return client
}

func (o ClientOptions) header() string {
	if http.CanonicalHeaderKey(o.Header) == HeaderForwarded {
		return HeaderForwarded
	}
	return HeaderXForwardedFor
}

func (o ClientOptions) trusted(a netip.Addr) bool {
	for _, p := range o.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hops returns the entries of the forwarding header, leftmost first, over
// all its lines.
func (o ClientOptions) hops(h http.Header) []string {
	var out []string
	for _, v := range h.Values(o.header()) {
		out = append(out, strings.Split(v, ",")...)
	}
	return out
}

// parseHop reads one entry: an address (X-Forwarded-For, where some
// proxies add a port), or the for= parameter of a Forwarded element.
func parseHop(hop string, forwarded bool) (netip.Addr, bool) {
	v := strings.TrimSpace(hop)
	if forwarded {
		found := false
		for _, pair := range strings.Split(v, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
				v, found = strings.Trim(strings.TrimSpace(val), `"`), true
				break
			}
		}
		if !found {
			return netip.Addr{}, false
		}
	}
	if a, err := netip.ParseAddr(v); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().Unmap(), true
	}
	if inner, ok := strings.CutPrefix(v, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil {
				return a.Unmap(), true
			}
		}
	}
	return netip.Addr{}, false
}

// peerAddr is the address part of a RemoteAddr; invalid when there is none.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// AddrKey is the key under which a client address is limited: an IPv4
// address as it is, an IPv6 address by its /64 (the least a site is
// given: one holder has all of it), "invalid" for no address (all counted
// together). Every per-address limit uses it.
func AddrKey(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.Is4():
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// ParsePrefixes reads a list of CIDRs or single addresses (a /32 or /128).
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
