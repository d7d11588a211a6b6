package capin

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/drover-dev/drover/pkg/checksum"
)

// TestAttackFetchFollowsRedirect (a red-team finding, now fixed: the test keeps it so) was: Fetch follows redirects (the default
// client's up to 10, to any host, http included), then checks the chain on
// the last connection, not on the server's. A server whose certificate
// does not chain to the pinned CA passes the pin by redirecting to one that
// does. (The API client after it refuses redirects and verifies the server
// itself, so no credential leaks; but Fetch's promise is broken, and the
// pin is reported as held for a server that will fail every later call.)
func TestAttackFetchFollowsRedirect(t *testing.T) {
	good, goodHits, goodCA := pinServer(t, nil)
	bad := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, good.URL+r.URL.Path, http.StatusFound)
	}))
	defer bad.Close()
	_, _, err := Fetch(t.Context(), bad.URL, checksum.Of(goodCA))
	if !errors.Is(err, ErrMismatch) || goodHits.Load() != 0 {
		t.Errorf("Fetch of a server redirecting elsewhere = %v, %d requests to the other address; want ErrMismatch and none", err, goodHits.Load())
	}
}
