package request

import (
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-dev/drover/pkg/ids"
)

func TestParse(t *testing.T) {
	long := "/v3/" + strings.Repeat("x-", 150)
	tests := []struct {
		method, target string
		want           Info
	}{
		{"GET", "/k8s/clusters/c-abc12/api/v1/namespaces/a/pods?watch=1", Info{Kind: KindProxy, ClusterID: "c-abc12",
			Path: "/api/v1/namespaces/a/pods", Verb: "watch", LogPath: "/k8s/clusters/c-abc12/api/v1/namespaces/a/pods",
			Kube: RequestInfo{IsResource: true, Verb: "watch", APIVersion: "v1", Namespace: "a", Resource: "pods"}}},
		{"GET", "/k8s/clusters/c-abc12/api/v1/namespaces/a%2Fb", Info{Kind: KindProxy, ClusterID: "c-abc12",
			Path: "/api/v1/namespaces/a/b", RawPath: "/api/v1/namespaces/a%2Fb", Verb: "list", LogPath: "/k8s/clusters/c-abc12/api/v1/namespaces/a/b",
			// Described from the unescaped path, as the apiserver's own
			// request info is; the escaping goes downstream unchanged.
			Kube: RequestInfo{IsResource: true, Verb: "list", APIVersion: "v1", Namespace: "a", Resource: "b"}}},
		{"GET", "/k8s/clusters/C_BAD/api", Info{Kind: KindProxy, Verb: "get", LogPath: "/k8s/clusters/C_BAD/api"}},
		// Not the format of a cluster id (ids.Cluster): no cluster named.
		{"GET", "/k8s/clusters/c-abc1/api", Info{Kind: KindProxy, Verb: "get", LogPath: "/k8s/clusters/c-abc1/api"}},
		{"GET", "/k8s/clusters/local/api", Info{Kind: KindProxy, Verb: "get", LogPath: "/k8s/clusters/local/api"}},
		{"GET", "/k8s/clusters/c-abc%312/api", Info{Kind: KindProxy, Verb: "get", LogPath: "/k8s/clusters/c-abc12/api"}},
		{"PROPFIND", "/k8s/clusters/c-abc12/api/v1/pods", Info{Kind: KindProxy, ClusterID: "c-abc12", Path: "/api/v1/pods", Verb: "other",
			LogPath: "/k8s/clusters/c-abc12/api/v1/pods", Kube: RequestInfo{IsResource: true, Verb: "other", APIVersion: "v1", Resource: "pods"}}},
		{"POST", "/v3/tokens", Info{Kind: KindAPI, Verb: "post", LogPath: "/v3/tokens"}},
		{"POST", "/v3/import/r-abc:secret.yaml", Info{Kind: KindAPI, Verb: "post", LogPath: "/v3/import/<redacted>"}},
		{"GET", long, Info{Kind: KindAPI, Verb: "get", LogPath: long[:maxLogPath] + "…"}},
		{"GET", "/healthz", Info{Verb: "get", LogPath: "/healthz"}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			got := Parse(httptest.NewRequest(tc.method, tc.target, nil), ClientOptions{})
			tc.want.Client = netip.MustParseAddr("192.0.2.1") // httptest's RemoteAddr
			if diff := cmp.Diff(tc.want, *got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitProxyPath(t *testing.T) {
	type split struct {
		ID, Path, RawPath string
		OK                bool
	}
	tests := []struct {
		target string
		want   split
	}{
		{"/k8s/clusters/c-abc12", split{"c-abc12", "/", "", true}},
		{"/k8s/clusters/c-abc12/", split{"c-abc12", "/", "", true}},
		{"/k8s/clusters/c-abc12/api/v1", split{"c-abc12", "/api/v1", "", true}},
		{"/k8s/clusters/c-abc12/api/v1/namespaces/a%2Fb", split{"c-abc12", "/api/v1/namespaces/a/b", "/api/v1/namespaces/a%2Fb", true}},
		{"/k8s/clusters/", split{}},
		{"/k8s/clusters//api", split{}},
		{"/k8s/clusters/c-abc1/api", split{}},    // one short
		{"/k8s/clusters/c-abc123/api", split{}},  // one long
		{"/k8s/clusters/c-ABC12/api", split{}},   // upper case
		{"/k8s/clusters/u-abc12/api", split{}},   // another kind's prefix
		{"/k8s/clusters/c-ab%2F12/api", split{}}, // an escaped slash is not part of an id
		{"/k8s/clusters/c-abc12%2Fapi", split{}},
		{"/v3/clusters/c-abc12", split{}},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			u, err := url.Parse(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			var got split
			got.ID, got.Path, got.RawPath, got.OK = SplitProxyPath(u)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SplitProxyPath (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClusterIDCheckAllocs: the cluster id check runs on every proxied
// request; it must not allocate.
func TestClusterIDCheckAllocs(t *testing.T) {
	for _, id := range []string{"c-abc12", "c-abc1", "C_BAD", strings.Repeat("c", 300)} {
		var ok bool
		if n := testing.AllocsPerRun(1000, func() { ok = ids.Cluster.Valid(id) }); n != 0 {
			t.Errorf("ids.Cluster.Valid(%q) allocates %v times per call", id, n)
		}
		_ = ok
	}
}

func BenchmarkSplitProxyPath(b *testing.B) {
	u, _ := url.Parse("/k8s/clusters/c-abc12/api/v1/namespaces/default/pods")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, ok := SplitProxyPath(u); !ok {
			b.Fatal("not split")
		}
	}
}

// FuzzClusterID checks that the proxy path splitter and the id validator
// agree: a path names a cluster exactly when its first segment is a
// cluster id, and then that segment is the id.
func FuzzClusterID(f *testing.F) {
	f.Add("c-abc12", "/api/v1")
	f.Add("c-abc1", "/api")
	f.Add("C-ABC12", "")
	f.Add("c-ab/12", "/x")
	f.Add("c-ab%2F1", "/x")
	f.Add("c-abc12", "/%zz")
	f.Fuzz(func(t *testing.T, segment, rest string) {
		raw := ProxyPrefix + segment + rest
		u := &url.URL{Path: raw}
		if p, err := url.Parse(raw); err == nil {
			u = p // the client's own escaping
		}
		id, _, _, ok := SplitProxyPath(u)
		first, _, _ := strings.Cut(strings.TrimPrefix(u.EscapedPath(), ProxyPrefix), "/")
		if !strings.HasPrefix(u.EscapedPath(), ProxyPrefix) {
			if ok {
				t.Fatalf("%q split although it is not under %s", raw, ProxyPrefix)
			}
			return
		}
		valid := ids.Cluster.Valid(first)
		if ok && (!valid || id != first) {
			t.Fatalf("%q split into cluster %q; the first segment %q is valid: %v", raw, id, first, valid)
		}
		if !ok && valid {
			// The only other refusal is a tail that cannot be unescaped.
			if _, err := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), ProxyPrefix+first)); err == nil {
				t.Fatalf("%q not split although its first segment %q is a cluster id", raw, first)
			}
		}
		if ok && (id == "" || !ids.Cluster.Valid(id)) {
			t.Fatalf("%q split into %q, not a cluster id", raw, id)
		}
	})
}
