package cli

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestClientFollowsNoRedirect: a server that redirects a login gets
// neither the password nor the session sent on.
func TestClientFollowsNoRedirect(t *testing.T) {
	var followed atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Add(1)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	c, err := NewClient(srv.URL, caPEM, "session-token")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Do(t.Context(), http.MethodPost, "/v3/login", loginRequest{Username: "u", Password: "p"}, nil)
	if err == nil || followed.Load() != 0 {
		t.Fatalf("Do = %v, the redirect was followed %d times; want an error and none", err, followed.Load())
	}
}
