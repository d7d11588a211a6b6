package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/token"
)

// credentialServer is a Drover server that answers POST
// /v3/clusters/{id}/credentials with what answer says, counting the calls.
type credentialServer struct {
	*httptest.Server
	caPEM  []byte
	mints  atomic.Int32
	answer func(now time.Time) map[string]any
}

func newCredentialServer(t *testing.T, answer func(now time.Time) map[string]any) *credentialServer {
	t.Helper()
	c := &credentialServer{answer: answer}
	c.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/credentials") {
			http.NotFound(w, r)
			return
		}
		c.mints.Add(1)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(c.answer(time.Now()))
	}))
	c.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate().Raw})
	t.Cleanup(c.Close)
	return c
}

func (c *credentialServer) server(t *testing.T) *Server {
	t.Helper()
	key, err := NormalizeURL(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &Server{URL: key, CA: string(c.caPEM), Session: "session-jwt", SessionID: "s-1", ExpiresAt: time.Now().Add(8 * time.Hour)}
}

func newPluginToken(t *testing.T) token.Token {
	t.Helper()
	tok, err := token.New(ids.Token)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestAttackCredentialServerClock (a red-team finding, now fixed: the test
// keeps it so) was: the plugin compared the server's createdAt and
// expiresAt with the local clock. On a machine whose clock runs 15 minutes
// ahead of the server's (or with a server that answers times in the past),
// every cached credential was already due for refresh: each kubectl request
// ran the plugin (kubectl was told the token had expired), each run minted
// a token, and the server's two-live rule ended the tokens other kubectl
// processes still held. Behind the server, the plugin handed out a token
// the server had ended. The token's life is the server's; when it started
// is the local clock's.
func TestAttackCredentialServerClock(t *testing.T) {
	for _, c := range []struct {
		name string
		skew time.Duration
	}{
		{"server behind", -20 * time.Minute},
		{"server ahead", 20 * time.Minute},
		{"in step", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := newPluginToken(t)
			srv := newCredentialServer(t, func(now time.Time) map[string]any {
				now = now.Add(c.skew)
				return map[string]any{"token": tok.String(), "id": tok.ID, "createdAt": now, "expiresAt": now.Add(15 * time.Minute)}
			})
			dir := t.TempDir()
			s := srv.server(t)
			var got []time.Duration
			for range 3 {
				before := time.Now()
				cred, _, err := GetCredential(context.Background(), dir, s, CredentialRequest{ClusterID: "c-abc12"})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, cred.RefreshAt().Sub(before).Round(time.Minute))
			}
			if n := srv.mints.Load(); n != 1 {
				t.Errorf("three kubectl runs minted %d tokens; want 1", n)
			}
			if diff := cmp.Diff([]time.Duration{11 * time.Minute, 11 * time.Minute, 11 * time.Minute}, got); diff != "" {
				t.Errorf("when kubectl is told the token expires, from now, rounded (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAttackCredentialServerAnswer (a red-team finding, now fixed: the test
// keeps it so) was: the plugin cached and handed kubectl whatever token
// string the server answered: one with a line break (a header of the
// server's choosing in every kubectl request, or a transport error), one
// of megabytes (over what the cache reads back, so each run minted
// again), one whose id is not the token's. And an expiry past the end of
// the session kept a credential of an ended session "fresh".
func TestAttackCredentialServerAnswer(t *testing.T) {
	good := newPluginToken(t)
	for _, c := range []struct {
		name   string
		answer func(now time.Time) map[string]any
		err    string
		life   time.Duration
	}{
		{name: "a token", answer: func(now time.Time) map[string]any {
			return map[string]any{"token": good.String(), "id": good.ID, "createdAt": now, "expiresAt": now.Add(time.Hour)}
		}, life: time.Hour},
		{name: "a header in the token", answer: func(now time.Time) map[string]any {
			return map[string]any{"token": good.String() + "\r\nX-Evil: 1", "id": good.ID, "createdAt": now, "expiresAt": now.Add(time.Hour)}
		}, err: "malformed"},
		{name: "a huge token", answer: func(now time.Time) map[string]any {
			return map[string]any{"token": good.ID + ":" + strings.Repeat("a", 1<<20), "id": good.ID, "createdAt": now, "expiresAt": now.Add(time.Hour)}
		}, err: "malformed"},
		{name: "another id", answer: func(now time.Time) map[string]any {
			return map[string]any{"token": good.String(), "id": "t-other", "createdAt": now, "expiresAt": now.Add(time.Hour)}
		}, err: "malformed"},
		{name: "expired at birth", answer: func(now time.Time) map[string]any {
			return map[string]any{"token": good.String(), "id": good.ID, "createdAt": now, "expiresAt": now}
		}, err: "no usable credential"},
		{name: "past the session", answer: func(now time.Time) map[string]any {
			return map[string]any{"token": good.String(), "id": good.ID, "createdAt": now, "expiresAt": now.Add(100 * 365 * 24 * time.Hour)}
		}, life: 8 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newCredentialServer(t, c.answer)
			before := time.Now()
			cred, _, err := GetCredential(context.Background(), t.TempDir(), srv.server(t), CredentialRequest{ClusterID: "c-abc12"})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), good.Secret) {
					t.Errorf("got a token of %d bytes, error %v; want an error saying %q, without the secret", len(cred.Token), err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cred.ExpiresAt.Sub(before).Round(time.Minute); d != c.life {
				t.Errorf("the credential lives %v; want %v", d, c.life)
			}
		})
	}
}

// liveAnswer is a credential of ttl, as the server answers it.
func liveAnswer(t *testing.T, ttl time.Duration) func(now time.Time) map[string]any {
	return func(now time.Time) map[string]any {
		tok := newPluginToken(t)
		time.Sleep(50 * time.Millisecond) // a mint that takes a while: others queue on the lock
		return map[string]any{"token": tok.String(), "id": tok.ID, "createdAt": now, "expiresAt": now.Add(ttl)}
	}
}

// TestCredentialLock: kubectl processes that ask at once share one token:
// the cache's file lock lets one mint while the others wait, and they find
// its token. Each caller opens the lock on its own, as processes do.
func TestCredentialLock(t *testing.T) {
	srv := newCredentialServer(t, liveAnswer(t, 15*time.Minute))
	dir, s := t.TempDir(), srv.server(t)
	const callers = 8
	tokens := make(chan string, callers)
	errs := make(chan error, callers)
	for range callers {
		go func() {
			c, _, err := GetCredential(context.Background(), dir, s, CredentialRequest{ClusterID: "c-abcde"})
			tokens <- c.Token
			errs <- err
		}()
	}
	seen := map[string]bool{}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		seen[<-tokens] = true
	}
	if n := srv.mints.Load(); n != 1 || len(seen) != 1 {
		t.Errorf("%d callers at once: %d mints, %d distinct tokens; want 1 and 1", callers, n, len(seen))
	}
}

// TestCredentialOffline: the authorized endpoint's credential is handed out
// from the cache when its refresh is due and the server cannot be reached,
// until it expires; the proxy's credential is not; a refused session drops
// the cache and says the session ended.
func TestCredentialOffline(t *testing.T) {
	srv := newCredentialServer(t, liveAnswer(t, time.Hour))
	dir, s := t.TempDir(), srv.server(t)
	now := time.Now()
	clock := func() time.Time { return now }
	for _, ace := range []bool{false, true} {
		if _, _, err := GetCredential(context.Background(), dir, s, CredentialRequest{ClusterID: "c-abcde", AuthEndpoint: ace, Now: clock}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Close()                     // the server is down
	now = now.Add(50 * time.Minute) // past the refresh (45 min), before the expiry
	c, off, err := GetCredential(context.Background(), dir, s, CredentialRequest{ClusterID: "c-abcde", AuthEndpoint: true, Now: clock})
	if err != nil || off == nil || c.Token == "" {
		t.Errorf("-ace with the server down: %v, offline %v", err, off)
	}
	if _, _, err := GetCredential(context.Background(), dir, s, CredentialRequest{ClusterID: "c-abcde", Now: clock}); err == nil {
		t.Error("the proxy's credential was handed out from the cache with its refresh due and the server down")
	}
	now = now.Add(20 * time.Minute) // past the expiry
	if _, _, err := GetCredential(context.Background(), dir, s, CredentialRequest{ClusterID: "c-abcde", AuthEndpoint: true, Now: clock}); err == nil {
		t.Error("an expired -ace credential was handed out")
	}
}
