package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/drover-dev/drover/pkg/request"
)

// TestAPIMetrics: API calls are counted by the template of the route that
// served them, the innermost when routers nest, never by the path a client
// sent; logins by kind and result; anything not Drover's API is not
// counted here.
func TestAPIMetrics(t *testing.T) {
	m := NewServer()
	inner := mux.NewRouter()
	inner.HandleFunc("/v3/clusters/{id}", func(w http.ResponseWriter, _ *http.Request) {}).Methods(http.MethodGet)
	inner.Use(RecordRoute)
	outer := mux.NewRouter()
	outer.HandleFunc("/v3/login", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Test") == "wrong" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}).Methods(http.MethodPost)
	outer.HandleFunc("/v3/login/{provider}/callback", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}).Methods(http.MethodGet)
	outer.PathPrefix("/v3/").Handler(inner)
	outer.PathPrefix("/k8s/clusters/").HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	outer.Use(RecordRoute)
	h := request.WithRequestInfo(m.WithAPIMetrics(outer), request.ClientOptions{})
	for _, c := range []struct{ method, path, header string }{
		{"POST", "/v3/login", ""},
		{"POST", "/v3/login", "wrong"},
		{"POST", "/v3/login", "wrong"},
		{"GET", "/v3/login/github/callback", ""},
		{"GET", "/v3/clusters/c-abcde", ""},
		{"GET", "/v3/clusters/c-fghij", ""},
		{"GET", "/v3/no/such/thing-r-secret", ""},
		{"BREW", "/v3/clusters/c-abcde", ""},
		{"GET", "/k8s/clusters/c-abcde/api", ""},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		r.Header.Set("X-Test", c.header)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	got := map[string]float64{}
	for _, l := range [][]string{
		{"/v3/login", "POST", "200"}, {"/v3/login", "POST", "401"}, {"/v3/login/{provider}/callback", "GET", "429"},
		{"/v3/clusters/{id}", "GET", "200"}, {"/v3/", "GET", "404"}, {"/v3/", "other", "405"},
	} {
		if v := testutil.ToFloat64(m.APIRequests.WithLabelValues(l...)); v > 0 {
			got[l[0]+" "+l[1]+" "+l[2]] = v
		}
	}
	want := map[string]float64{
		"/v3/login POST 200": 1, "/v3/login POST 401": 2, "/v3/login/{provider}/callback GET 429": 1,
		"/v3/clusters/{id} GET 200": 2,
		// Matched the outer prefix only: the inner router had no route.
		"/v3/ GET 404": 1, "/v3/ other 405": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("API requests (-want +got):\n%s", diff)
	}
	logins := map[string]float64{}
	for _, l := range [][]string{{"password", "ok"}, {"password", "refused"}, {"redirect", "limited"}} {
		logins[l[0]+" "+l[1]] = testutil.ToFloat64(m.Logins.WithLabelValues(l...))
	}
	if diff := cmp.Diff(map[string]float64{"password ok": 1, "password refused": 2, "redirect limited": 1}, logins); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
	if n := testutil.CollectAndCount(m.APIRequests); n != 6 {
		t.Errorf("%d API request series; want 6 (no path, no method a client made up)", n)
	}
}
