package request

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParse(t *testing.T) {
	long := "/v3/" + strings.Repeat("x", 300)
	tests := []struct {
		method, target string
		want           Info
	}{
		{"GET", "/k8s/clusters/c-1/api/v1/namespaces/a/pods?watch=1", Info{Kind: KindProxy, ClusterID: "c-1",
			Path: "/api/v1/namespaces/a/pods", Verb: "watch", LogPath: "/k8s/clusters/c-1/api/v1/namespaces/a/pods",
			Kube: RequestInfo{IsResource: true, Verb: "watch", APIVersion: "v1", Namespace: "a", Resource: "pods"}}},
		{"GET", "/k8s/clusters/c-1/api/v1/namespaces/a%2Fb", Info{Kind: KindProxy, ClusterID: "c-1",
			Path: "/api/v1/namespaces/a/b", RawPath: "/api/v1/namespaces/a%2Fb", Verb: "list", LogPath: "/k8s/clusters/c-1/api/v1/namespaces/a/b",
			// Described from the unescaped path, as the apiserver's own
			// request info is; the escaping goes downstream unchanged.
			Kube: RequestInfo{IsResource: true, Verb: "list", APIVersion: "v1", Namespace: "a", Resource: "b"}}},
		{"GET", "/k8s/clusters/C_BAD/api", Info{Kind: KindProxy, Verb: "get", LogPath: "/k8s/clusters/C_BAD/api"}},
		{"PROPFIND", "/k8s/clusters/c-1/api/v1/pods", Info{Kind: KindProxy, ClusterID: "c-1", Path: "/api/v1/pods", Verb: "other",
			LogPath: "/k8s/clusters/c-1/api/v1/pods", Kube: RequestInfo{IsResource: true, Verb: "other", APIVersion: "v1", Resource: "pods"}}},
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
