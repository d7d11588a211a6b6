package cli

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// TestRetryAfter: a 429 with a short Retry-After (a login limit) is waited
// out and sent again, body and all; a long one is the error at once.
func TestRetryAfter(t *testing.T) {
	var calls atomic.Int32
	var bodies []string
	var mu sync.Mutex
	wait := "1"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", wait)
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"kind":"Status","message":"too many login attempts"}`))
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	c, err := NewClient(srv.URL, ca, "")
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ OK bool }
	start := time.Now()
	if err := c.Do(t.Context(), http.MethodPost, "/v3/login", map[string]string{"username": "u"}, &out); err != nil || !out.OK {
		t.Fatalf("Do = %v, %+v", err, out)
	}
	if d := time.Since(start); d < time.Second || len(bodies) != 2 || bodies[0] != bodies[1] {
		t.Errorf("retried after %v with bodies %q; want the same body after 1s", d, bodies)
	}
	calls.Store(0)
	wait = "60"
	start = time.Now()
	if err := c.Do(t.Context(), http.MethodPost, "/v3/login", nil, nil); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("a Retry-After of 60s: %v after %v; want the error at once", err, time.Since(start))
	}
}
