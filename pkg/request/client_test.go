package request

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClientAddr(t *testing.T) {
	proxies, err := ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.9", "2001:db8:1::/48"})
	if err != nil {
		t.Fatal(err)
	}
	trusting := ClientOptions{TrustedProxies: proxies}
	fwd := ClientOptions{TrustedProxies: proxies, Header: "forwarded"}
	tests := []struct {
		name    string
		opts    ClientOptions
		remote  string
		headers map[string][]string
		want    string
	}{
		{"no proxies trusted: the header is ignored", ClientOptions{}, "10.1.1.1:5", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, "10.1.1.1"},
		{"an untrusted peer's header is ignored", trusting, "198.51.100.1:5", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, "198.51.100.1"},
		{"a trusted peer names the client", trusting, "10.1.1.1:5", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7"},
		{"a trusted peer without a header is the client", trusting, "10.1.1.1:5", nil, "10.1.1.1"},
		{"a forged leftmost entry is passed over", trusting, "10.1.1.1:5", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 203.0.113.7"}}, "203.0.113.7"},
		{"chained trusted proxies", trusting, "10.1.1.1:5", map[string][]string{"X-Forwarded-For": {"203.0.113.7, 10.2.2.2", "192.0.2.9"}}, "203.0.113.7"},
		{"every hop trusted: the leftmost", trusting, "10.1.1.1:5", map[string][]string{"X-Forwarded-For": {"10.3.3.3, 10.2.2.2"}}, "10.3.3.3"},
		{"garbage stops at the proxy that wrote it", trusting, "10.1.1.1:5", map[string][]string{"X-Forwarded-For": {"203.0.113.7, unknown"}}, "10.1.1.1"},
		{"garbage behind a second proxy", trusting, "10.1.1.1:5", map[string][]string{"X-Forwarded-For": {"junk, 10.2.2.2"}}, "10.2.2.2"},
		{"an entry with a port", trusting, "10.1.1.1:5", map[string][]string{"X-Forwarded-For": {"203.0.113.7:4711"}}, "203.0.113.7"},
		{"IPv6 in brackets", trusting, "[2001:db8:1::5]:443", map[string][]string{"X-Forwarded-For": {"[2001:db8:9::1]"}}, "2001:db8:9::1"},
		{"a mapped peer", trusting, "[::ffff:10.1.1.1]:5", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7"},
		{"X-Forwarded-For is not read when Forwarded is the header", fwd, "10.1.1.1:5", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, "10.1.1.1"},
		{"Forwarded for=", fwd, "10.1.1.1:5", map[string][]string{"Forwarded": {`for=1.2.3.4, for="[2001:db8:9::1]:4711";proto=https`}}, "2001:db8:9::1"},
		{"Forwarded without for=", fwd, "10.1.1.1:5", map[string][]string{"Forwarded": {"proto=https"}}, "10.1.1.1"},
		{"Forwarded is not read when X-Forwarded-For is the header", trusting, "10.1.1.1:5", map[string][]string{"Forwarded": {"for=203.0.113.7"}}, "10.1.1.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if diff := cmp.Diff(tc.want, tc.opts.ClientAddr(r).String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestClientAddrHopsBounded: a trusted proxy that passes on thousands of
// trusted-looking entries costs a bounded walk, and the answer is still a
// trusted hop, never an entry beyond the bound.
func TestClientAddrHopsBounded(t *testing.T) {
	opts := ClientOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:5"
	v := "203.0.113.7"
	for range 1000 {
		v += ", 10.9.9.9"
	}
	r.Header.Set("X-Forwarded-For", v)
	if got := opts.ClientAddr(r).String(); got != "10.9.9.9" {
		t.Errorf("got %s, want 10.9.9.9", got)
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":             "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":  "2001:db8:1:2::/64",
		"fe80::1%eth0":          "fe80::/64",
		"::ffff:192.0.2.1":      "192.0.2.1",
		"2001:db8:1:3::1":       "2001:db8:1:3::/64",
		"2001:db8:1:2::1%zone1": "2001:db8:1:2::/64",
	} {
		if got := AddrKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("AddrKey(%s) = %s, want %s", in, got, want)
		}
	}
	if got := AddrKey(netip.Addr{}); got != "invalid" {
		t.Errorf("AddrKey(invalid) = %s", got)
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes([]string{" 10.1.2.3/8", "192.0.2.9", "::ffff:10.0.0.0/104", "2001:db8::1", ""})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	if diff := cmp.Diff([]string{"10.0.0.0/8", "192.0.2.9/32", "10.0.0.0/8", "2001:db8::1/128"}, s); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a /33 was accepted")
	}
}

// FuzzClientAddr: whatever the header says, the answer is the peer, a
// trusted hop, or an address written in the header; never invalid for a
// valid peer.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "1.2.3.4, 10.0.0.2", "for=1.2.3.4;by=x", `for="[::1]:5"`, ",,,", "[", "10.0.0.1:99999"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, header string, forwarded bool) {
		opts := ClientOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
		name := HeaderXForwardedFor
		if forwarded {
			opts.Header, name = HeaderForwarded, HeaderForwarded
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.1:5"
		r.Header.Set(name, header)
		got := opts.ClientAddr(r)
		if !got.IsValid() {
			t.Fatalf("invalid client for %q", header)
		}
		if got.Is4() && opts.trusted(got) {
			return // the peer or a trusted hop
		}
		for _, h := range opts.hops(r.Header) {
			if a, ok := parseHop(h, forwarded); ok && a == got {
				return
			}
		}
		t.Fatalf("client %s is neither a trusted hop nor an entry of %q", got, header)
	})
}
