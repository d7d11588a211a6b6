package audit

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/request"
)

// serve runs one request through the audit filters as the chain composes
// them (request info, audit, identity) and returns what was written.
func serve(t *testing.T, f Format, r *http.Request, id *authn.Identity, code int) []byte {
	t.Helper()
	var out bytes.Buffer
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetImpersonation(r.Context(), "jane", []string{"devs"})
		w.WriteHeader(code)
	})
	h = WithIdentity(h)
	if id != nil {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inner.ServeHTTP(w, r.WithContext(authn.WithIdentity(r.Context(), *id)))
		})
	}
	h = request.WithRequestInfo(WithAudit(h, NewFormat(&out, LevelAll, f)), request.ClientOptions{})
	h.ServeHTTP(httptest.NewRecorder(), r)
	return out.Bytes()
}

// TestKubernetesFormat: in the Kubernetes format, a proxied request and an
// API call are audit.k8s.io/v1 Events that decode strictly into the
// apiserver's own type, with who, what and the answer, and Drover's
// additions as annotations; never a token's secret.
func TestKubernetesFormat(t *testing.T) {
	id := &authn.Identity{UserID: "u-1", Username: "ada", Groups: []string{"g1"}, TokenID: "t-1"}
	for _, c := range []struct {
		name   string
		method string
		path   string
		code   int
		want   auditv1.Event
	}{
		{"proxied", http.MethodGet, "/k8s/clusters/c-alpha/apis/apps/v1/namespaces/web/deployments/front/scale", 200, auditv1.Event{
			Verb: "get", RequestURI: "/k8s/clusters/c-alpha/apis/apps/v1/namespaces/web/deployments/front/scale",
			ObjectRef:   &auditv1.ObjectReference{Resource: "deployments", Namespace: "web", Name: "front", Subresource: "scale", APIGroup: "apps", APIVersion: "v1"},
			Annotations: map[string]string{AnnotationKind: "proxy", AnnotationCluster: "c-alpha", AnnotationTokenID: "t-1"},
		}},
		{"proxied core exec", http.MethodPost, "/k8s/clusters/c-alpha/api/v1/namespaces/a/pods/p/exec", 101, auditv1.Event{
			Verb: "create", RequestURI: "/k8s/clusters/c-alpha/api/v1/namespaces/a/pods/p/exec",
			ObjectRef:   &auditv1.ObjectReference{Resource: "pods", Namespace: "a", Name: "p", Subresource: "exec", APIVersion: "v1"},
			Annotations: map[string]string{AnnotationKind: "proxy", AnnotationCluster: "c-alpha", AnnotationTokenID: "t-1"},
		}},
		{"api", http.MethodDelete, "/v3/tokens/t-9", 403, auditv1.Event{
			Verb: "delete", RequestURI: "/v3/tokens/t-9",
			Annotations: map[string]string{AnnotationKind: "api", AnnotationTokenID: "t-1"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, nil)
			r.Header.Set("User-Agent", "kubectl/v1.33.13")
			r.Header.Set("Authorization", "Bearer t-1:very-secret")
			line := serve(t, FormatKubernetes, r, id, c.code)
			if bytes.Contains(line, []byte("very-secret")) {
				t.Fatalf("the secret is in the log: %s", line)
			}
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			var got auditv1.Event
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("decode %s: %v", line, err)
			}
			want := c.want
			want.TypeMeta = metav1.TypeMeta{Kind: "Event", APIVersion: "audit.k8s.io/v1"}
			want.Level, want.Stage = auditv1.LevelMetadata, auditv1.StageResponseComplete
			want.User = authnv1.UserInfo{Username: "ada", UID: "u-1", Groups: []string{"g1"}}
			want.ImpersonatedUser = &authnv1.UserInfo{Username: "jane", Groups: []string{"devs"}}
			want.SourceIPs = []string{"192.0.2.1"}
			want.UserAgent = "kubectl/v1.33.13"
			want.ResponseStatus = &metav1.Status{Code: int32(c.code)}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(auditv1.Event{}, "AuditID", "RequestReceivedTimestamp", "StageTimestamp")); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
			if got.AuditID == "" || got.StageTimestamp.Before(&got.RequestReceivedTimestamp) {
				t.Errorf("audit id %q, received %v, done %v", got.AuditID, got.RequestReceivedTimestamp, got.StageTimestamp)
			}
		})
	}
}

// TestDroverFormatUnchanged: the default format is still Drover's Entry.
func TestDroverFormatUnchanged(t *testing.T) {
	line := serve(t, FormatDrover, httptest.NewRequest(http.MethodGet, "/v3/users/me", nil), nil, 401)
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatal(err)
	}
	delete(got, "time")
	delete(got, "latencyMs")
	want := map[string]any{"kind": "api", "verb": "get", "path": "/v3/users/me", "status": 401.0, "client": "192.0.2.1",
		"as": "jane", "asGroups": []any{"devs"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
}

// TestFileRotates: lines go to the file until the next would pass its
// size; then the file becomes .1, .1 becomes .2, the oldest beyond Keep is
// dropped, and every file holds whole lines only.
func TestFileRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	f, err := OpenFile(path, 25, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"line-1 aaaa\n", "line-2 bbbb\n", "line-3 cccc\n", "line-4 dddd\n", "line-5 eeee\n", "line-6 ffff\n", "line-7 gggg\n"} {
		if _, err := f.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		got[e.Name()] = string(b)
		if info, _ := e.Info(); info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", e.Name(), info.Mode().Perm())
		}
	}
	want := map[string]string{
		"audit.log":   "line-7 gggg\n",
		"audit.log.1": "line-5 eeee\nline-6 ffff\n",
		"audit.log.2": "line-3 cccc\nline-4 dddd\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	// Reopened, it appends and counts what is there.
	f, err = OpenFile(path, 25, 2)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("line-8 hhhh\n"))
	f.Write([]byte("line-9 iiii\n"))
	f.Close()
	b, _ := os.ReadFile(path)
	b1, _ := os.ReadFile(path + ".1")
	if string(b) != "line-9 iiii\n" || !strings.HasPrefix(string(b1), "line-7") {
		t.Errorf("after reopening: audit.log %q, audit.log.1 %q", b, b1)
	}
}
