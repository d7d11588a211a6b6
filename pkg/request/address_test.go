package request

import (
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/drover-dev/drover/pkg/agentapi"
)

func TestReaddress(t *testing.T) {
	const id = "c-abc12"
	client := netip.MustParseAddr("192.0.2.7")
	tests := []struct {
		name, target, cluster string
		wantOK                bool
		wantURI               string // the readdressed request's RequestURI
		wantInfo              Info   // the Info in the context afterwards
	}{
		{name: "health", target: "/healthz?verbose", cluster: id, wantOK: true, wantURI: "/k8s/clusters/c-abc12/healthz?verbose",
			wantInfo: Info{Kind: KindProxy, ClusterID: id, Path: "/healthz", Verb: "get", LogPath: "/k8s/clusters/c-abc12/healthz",
				Kube: RequestInfo{Verb: "get"}}},
		{name: "root", target: "/", cluster: id, wantOK: true, wantURI: "/k8s/clusters/c-abc12/",
			wantInfo: Info{Kind: KindProxy, ClusterID: id, Path: "/", Verb: "get", LogPath: "/k8s/clusters/c-abc12/",
				Kube: RequestInfo{Verb: "get"}}},
		{name: "watch", target: "/api/v1/namespaces/a/pods?watch=1", cluster: id, wantOK: true,
			wantURI: "/k8s/clusters/c-abc12/api/v1/namespaces/a/pods?watch=1",
			wantInfo: Info{Kind: KindProxy, ClusterID: id, Path: "/api/v1/namespaces/a/pods", Verb: "watch",
				LogPath: "/k8s/clusters/c-abc12/api/v1/namespaces/a/pods",
				Kube:    RequestInfo{IsResource: true, Verb: "watch", APIVersion: "v1", Namespace: "a", Resource: "pods"}}},
		{name: "escaping kept", target: "/api/v1/namespaces/a%2Fb", cluster: id, wantOK: true,
			wantURI: "/k8s/clusters/c-abc12/api/v1/namespaces/a%2Fb",
			wantInfo: Info{Kind: KindProxy, ClusterID: id, Path: "/api/v1/namespaces/a/b", RawPath: "/api/v1/namespaces/a%2Fb",
				Verb: "list", LogPath: "/k8s/clusters/c-abc12/api/v1/namespaces/a/b",
				Kube: RequestInfo{IsResource: true, Verb: "list", APIVersion: "v1", Namespace: "a", Resource: "b"}}},
		{name: "already prefixed", target: "/k8s/clusters/c-other/api", cluster: id,
			wantURI: "/k8s/clusters/c-other/api", wantInfo: Info{Kind: KindProxy, ClusterID: "c-other", Path: "/api", Verb: "get",
				LogPath: "/k8s/clusters/c-other/api", Kube: RequestInfo{Verb: "get"}}},
		{name: "the API", target: "/v3/clusters", cluster: id, wantURI: "/v3/clusters",
			wantInfo: Info{Kind: KindAPI, Verb: "get", LogPath: "/v3/clusters"}},
		{name: "the API's root", target: "/v3", cluster: id, wantURI: "/v3", wantInfo: Info{Verb: "get", LogPath: "/v3"}},
		{name: "the agents' endpoint", target: agentapi.ConnectPath, cluster: id, wantURI: agentapi.ConnectPath,
			wantInfo: Info{Kind: KindAPI, Verb: "get", LogPath: agentapi.ConnectPath}},
		{name: "the CA bundle", target: agentapi.CACertsPath, cluster: id, wantURI: agentapi.CACertsPath,
			wantInfo: Info{Verb: "get", LogPath: agentapi.CACertsPath}},
		{name: "not a cluster id", target: "/healthz", cluster: "C_BAD", wantURI: "/healthz",
			wantInfo: Info{Verb: "get", LogPath: "/healthz"}},
		{name: "no cluster", target: "/healthz", wantURI: "/healthz", wantInfo: Info{Verb: "get", LogPath: "/healthz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			info := parsePath(r)
			info.Client = client
			r = r.WithContext(NewContext(r.Context(), info))
			got, ok := Readdress(r, tt.cluster)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if got.RequestURI != tt.wantURI || got.URL.RequestURI() != tt.wantURI {
				t.Errorf("RequestURI %q, URL %q; want %q", got.RequestURI, got.URL.RequestURI(), tt.wantURI)
			}
			tt.wantInfo.Client = client
			after, _ := FromContext(got.Context())
			if diff := cmp.Diff(tt.wantInfo, *after, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Info (-want +got):\n%s", diff)
			}
			// What the proxy will act on is what the client asked for.
			if ok {
				cid, path, raw, split := SplitProxyPath(got.URL)
				if !split || cid != tt.cluster || path != r.URL.Path || raw != r.URL.RawPath {
					t.Errorf("SplitProxyPath = %q %q %q %v; want %q %q %q", cid, path, raw, split, tt.cluster, r.URL.Path, r.URL.RawPath)
				}
			}
		})
	}
}

// FuzzReaddress: whatever the path, a readdressed request splits back into
// the cluster and exactly the path (and escaping) the client sent, and a
// path Drover owns is never readdressed.
func FuzzReaddress(f *testing.F) {
	for _, s := range []string{"/healthz", "/api/v1/namespaces/a%2Fb", "/", "/k8s/clusters/c-x/api", "/v3/x", "//a", "/%zz", "/a;b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		u, err := url.Parse("https://drover.test" + p)
		if err != nil || u.Host != "drover.test" {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = u
		r = r.WithContext(NewContext(r.Context(), parsePath(r)))
		got, ok := Readdress(r, "c-abc12")
		if !ok {
			if strings.HasPrefix(u.Path, "/") && !DroverOwned(u.Path) {
				t.Fatalf("%q (path %q) not readdressed", p, u.Path)
			}
			return
		}
		if DroverOwned(u.Path) {
			t.Fatalf("Drover's own path %q readdressed", u.Path)
		}
		cid, path, raw, split := SplitProxyPath(got.URL)
		if !split || cid != "c-abc12" || path != u.Path || (raw != "" && raw != u.EscapedPath()) {
			t.Fatalf("%q: split %q %q %q %v; want c-abc12 %q (escaped %q)", p, cid, path, raw, split, u.Path, u.EscapedPath())
		}
	})
}
