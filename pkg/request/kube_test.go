package request

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRequestInfo(t *testing.T) {
	tests := []struct {
		method, path, query string
		want                RequestInfo
	}{
		{"GET", "/version", "", RequestInfo{Verb: "get"}},
		{"GET", "/api", "", RequestInfo{Verb: "get"}},
		{"GET", "/api/v1", "", RequestInfo{Verb: "get", APIVersion: "v1"}},
		{"GET", "/api/v1/namespaces", "", RequestInfo{IsResource: true, Verb: "list", APIVersion: "v1", Resource: "namespaces"}},
		{"GET", "/api/v1/namespaces/default", "", RequestInfo{IsResource: true, Verb: "get", APIVersion: "v1", Resource: "namespaces", Name: "default"}},
		{"DELETE", "/api/v1/namespaces/default", "", RequestInfo{IsResource: true, Verb: "delete", APIVersion: "v1", Resource: "namespaces", Name: "default"}},
		{"GET", "/api/v1/namespaces/kube-system/pods", "watch=true", RequestInfo{IsResource: true, Verb: "watch", APIVersion: "v1", Namespace: "kube-system", Resource: "pods"}},
		{"GET", "/api/v1/watch/namespaces/a/pods", "", RequestInfo{IsResource: true, Verb: "watch", APIVersion: "v1", Namespace: "a", Resource: "pods"}},
		{"POST", "/api/v1/namespaces/a/pods/p/exec", "command=sh", RequestInfo{IsResource: true, Verb: "create", APIVersion: "v1", Namespace: "a", Resource: "pods", Name: "p", Subresource: "exec"}},
		{"GET", "/api/v1/namespaces/a/pods/p/exec", "command=sh", RequestInfo{IsResource: true, Verb: "create", APIVersion: "v1", Namespace: "a", Resource: "pods", Name: "p", Subresource: "exec"}},
		{"GET", "/api/v1/namespaces/a/pods/p/attach", "", RequestInfo{IsResource: true, Verb: "create", APIVersion: "v1", Namespace: "a", Resource: "pods", Name: "p", Subresource: "attach"}},
		{"GET", "/api/v1/namespaces/a/pods/p/portforward", "", RequestInfo{IsResource: true, Verb: "create", APIVersion: "v1", Namespace: "a", Resource: "pods", Name: "p", Subresource: "portforward"}},
		{"GET", "/api/v1/namespaces/a/pods/p/log", "", RequestInfo{IsResource: true, Verb: "get", APIVersion: "v1", Namespace: "a", Resource: "pods", Name: "p", Subresource: "log"}},
		{"GET", "/api/v1/namespaces/a/services/s/exec", "", RequestInfo{IsResource: true, Verb: "get", APIVersion: "v1", Namespace: "a", Resource: "services", Name: "s", Subresource: "exec"}},
		{"GET", "/api/v1/namespaces/a/pods/p/log", "follow=true", RequestInfo{IsResource: true, Verb: "get", APIVersion: "v1", Namespace: "a", Resource: "pods", Name: "p", Subresource: "log"}},
		{"PATCH", "/apis/apps/v1/namespaces/a/deployments/web", "", RequestInfo{IsResource: true, Verb: "patch", APIGroup: "apps", APIVersion: "v1", Namespace: "a", Resource: "deployments", Name: "web"}},
		{"PUT", "/apis/apps/v1/namespaces/a/deployments/web/scale", "", RequestInfo{IsResource: true, Verb: "update", APIGroup: "apps", APIVersion: "v1", Namespace: "a", Resource: "deployments", Name: "web", Subresource: "scale"}},
		{"DELETE", "/apis/apps/v1/namespaces/a/deployments", "", RequestInfo{IsResource: true, Verb: "deletecollection", APIGroup: "apps", APIVersion: "v1", Namespace: "a", Resource: "deployments"}},
		{"POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "", RequestInfo{IsResource: true, Verb: "create", APIGroup: "authentication.k8s.io", APIVersion: "v1", Resource: "selfsubjectreviews"}},
		{"GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x", "", RequestInfo{IsResource: true, Verb: "get", APIGroup: "rbac.authorization.k8s.io", APIVersion: "v1", Resource: "clusterrolebindings", Name: "x"}},
		{"OPTIONS", "/openapi/v2", "", RequestInfo{Verb: "options"}},
		// A token in the path never becomes a description (the audit log).
		{"GET", "/api/v1/namespaces/r-abcdefghij:" + strings.Repeat("a", 52) + "/pods/r-abcdefghij:" + strings.Repeat("b", 52) + ".yaml", "",
			RequestInfo{IsResource: true, Verb: "get", APIVersion: "v1", Namespace: "r-abcdefghij:<redacted>", Resource: "pods", Name: "r-abcdefghij:<redacted>.yaml"}},
		{"GET", "/api/v1/namespaces/a/pods/web:8080/proxy", "", RequestInfo{IsResource: true, Verb: "get", APIVersion: "v1", Namespace: "a", Resource: "pods", Name: "web:8080", Subresource: "proxy"}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			got := ParseRequestInfo(tc.method, tc.path, q)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseRequestInfo(f *testing.F) {
	f.Add("GET", "/api/v1/namespaces/a/pods/p/log", "follow=true")
	f.Add("DELETE", "/apis/apps/v1/namespaces/a/deployments", "")
	f.Add("GET", "/api/v1/watch/namespaces", "watch=1")
	f.Fuzz(func(t *testing.T, method, path, query string) {
		q, _ := url.ParseQuery(query)
		info := ParseRequestInfo(method, path, q)
		if info.IsResource && info.APIVersion == "" {
			t.Fatalf("resource request without a version: %+v", info)
		}
		if info.Name != "" && info.Resource == "" {
			t.Fatalf("a name without a resource: %+v", info)
		}
	})
}

// TestMethodVerb: the verb comes from a fixed set whatever the method, so a
// client cannot grow a label set by making up methods.
func TestMethodVerb(t *testing.T) {
	fixed := map[string]bool{"get": true, "head": true, "post": true, "put": true, "patch": true,
		"delete": true, "options": true, "connect": true, "trace": true, "other": true}
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
		"get", "PROPFIND", "X-MADE-UP-1", "X-MADE-UP-2", ""} {
		if v := MethodVerb(m); !fixed[v] {
			t.Errorf("MethodVerb(%q) = %q, not in the fixed set", m, v)
		}
		for _, path := range []string{"/version", "/api/v1/namespaces/a/pods", "/api/v1/namespaces/a/pods/p"} {
			if v := ParseRequestInfo(m, path, nil).Verb; !fixed[v] && !kubeVerbs[v] {
				t.Errorf("ParseRequestInfo(%q, %q).Verb = %q, not in a fixed set", m, path, v)
			}
		}
	}
	if got := MethodVerb("PROPFIND"); got != "other" {
		t.Errorf("MethodVerb(PROPFIND) = %q, want other", got)
	}
}

var kubeVerbs = map[string]bool{"list": true, "watch": true, "create": true, "update": true, "deletecollection": true}
