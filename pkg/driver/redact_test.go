package driver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestInstallErrorsRedactURL: a refused download's cause, which the API
// logs, names the URL without its query (a presigned URL's signature),
// also when the URL is a redirect's.
func TestInstallErrorsRedactURL(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.invalid/driver?X-Amz-Signature=redirectsecret", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	r := newRegistry(t, "", 20*time.Second)
	sum := strings.Repeat("0", 64)
	for _, u := range []string{
		closed.URL + "/driver?X-Amz-Signature=dialsecret",
		srv.URL + "/elsewhere?X-Amz-Signature=firstsecret",
	} {
		_, err := r.Install(context.Background(), InstallRequest{Name: "x", URL: u, Checksum: sum})
		var ie *InstallError
		if !errors.As(err, &ie) || ie.Err == nil {
			t.Fatalf("Install(%s) = %v, want an InstallError with its cause", u, err)
		}
		if cause := ie.Err.Error(); strings.Contains(cause, "secret") || strings.Contains(cause, "X-Amz") {
			t.Errorf("the logged cause names the URL's query: %s", cause)
		}
	}
}
