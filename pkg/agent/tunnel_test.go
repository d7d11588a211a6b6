package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/agentapi"
)

func TestRefusal(t *testing.T) {
	tests := []struct {
		name          string
		code          int
		body          string
		wantMessage   string
		wantPermanent bool
	}{
		{name: "a token that is not valid", code: 401,
			body:        `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`,
			wantMessage: "Unauthorized", wantPermanent: true},
		{name: "a node token for a cluster agent", code: 403,
			body:        `{"kind":"Status","message":"this registration token admits node agents only","code":403}`,
			wantMessage: "this registration token admits node agents only", wantPermanent: true},
		{name: "an old agent", code: 400, body: `{"kind":"Status","message":"invalid agent parameters: too old"}`,
			wantMessage: "invalid agent parameters: too old", wantPermanent: true},
		{name: "no room for now", code: 503, body: `{"kind":"Status","message":"the server has no room"}`,
			wantMessage: "the server has no room"},
		{name: "a session conflict", code: 409, body: `{"kind":"Status","message":"taken"}`, wantMessage: "taken"},
		{name: "rate limited", code: 429, body: ``, wantMessage: ""},
		{name: "not a Status: text, one line", code: 404, body: "404 page not found\n\x1b[31mred", wantMessage: "404 page not found  [31mred",
			wantPermanent: true},
		{name: "a long body is cut", code: 502, body: strings.Repeat("x", 2000), wantMessage: strings.Repeat("x", maxRefusalMessage) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := refusal(&http.Response{StatusCode: tc.code, Body: io.NopCloser(strings.NewReader(tc.body))})
			if diff := cmp.Diff(tc.wantMessage, e.Message); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if e.Permanent() != tc.wantPermanent {
				t.Errorf("Permanent() = %v, want %v", e.Permanent(), tc.wantPermanent)
			}
			if want := fmt.Sprintf("the server refused the tunnel: HTTP %d: ", tc.code); !strings.HasPrefix(e.Error(), want) {
				t.Errorf("Error() %q does not start with %q", e.Error(), want)
			}
		})
	}
}

// syncBuffer is a log buffer the agent writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRefusedTokenBacksOff: a server that answers 401 to the agent's token
// is not asked again every backoff step: the agent logs the status and
// why, and waits for RefusedBackoff or a new token, which it then tries at
// once.
func TestRefusedTokenBacksOff(t *testing.T) {
	ts := newTunnelServer(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	revoked, current := newRegistrationToken(t), newRegistrationToken(t)
	ts.mu.Lock()
	ts.refuse = func(tok string) (int, string) {
		if tok == revoked {
			return http.StatusUnauthorized, "Unauthorized"
		}
		return 0, ""
	}
	ts.mu.Unlock()
	if err := os.WriteFile(tokenFile, []byte(revoked+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	m := NewMetrics()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			ServerURL: ts.srv.URL, CAChecksum: ts.sum, TokenFile: tokenFile, Kubeconfig: agentKubeconfig(t, dir),
			Kind: agentapi.KindNode, NodeName: "n1", TokenPoll: 20 * time.Millisecond,
			BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, RefusedBackoff: time.Hour,
			Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: m,
		})
	}()
	ts.waitConnects(t, 1)
	// With the ordinary backoff (10-50 ms) this would be dozens of tries.
	time.Sleep(time.Second)
	if got := ts.connects(); len(got) != 1 {
		t.Fatalf("%d connects with a refused token within a second, want 1", len(got))
	}
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "refuses this agent") {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line == nil {
		t.Fatalf("no log line about the refusal:\n%s", logs.String())
	}
	for k, want := range map[string]any{"level": "ERROR", "status": float64(401), "message": "Unauthorized", "retry_in": "1h0m0s"} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v", k, line[k], want)
		}
	}
	if hint, _ := line["hint"].(string); !strings.Contains(hint, "import manifest") {
		t.Errorf("hint %q does not say what to do", hint)
	}
	if strings.Contains(logs.String(), "bad handshake") || strings.Contains(logs.String(), strings.SplitN(revoked, ":", 2)[1]) {
		t.Errorf("the log says bad handshake or holds the token:\n%s", logs.String())
	}

	// A new token in the file ends the wait at once.
	if err := os.WriteFile(tokenFile, []byte(current+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := ts.waitConnects(t, 2)
	if diff := cmp.Diff([]string{revoked, current}, got); diff != "" {
		t.Errorf("tokens of the connects (-want +got):\n%s", diff)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
