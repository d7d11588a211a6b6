package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/server/chain"
)

// fakeLimiter refuses the keys in refuse with their wait and records every
// key it is asked about.
type fakeLimiter struct {
	mu     sync.Mutex
	refuse map[string]time.Duration
	asked  []string
}

func (l *fakeLimiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, key)
	if wait, ok := l.refuse[key]; ok {
		return false, wait
	}
	return true, 0
}

// TestLoginLimiters drives the login endpoints against fake limiters: the
// keys they are asked about, and the 429 with Retry-After they answer
// when one refuses.
func TestLoginLimiters(t *testing.T) {
	tests := []struct {
		name           string
		method, path   string
		body           string
		refuseUser     map[string]time.Duration
		refuseAddress  map[string]time.Duration
		wantCode       int
		wantRetryAfter string
		wantMessage    string
		wantUserKeys   []string
		wantAddrKeys   []string
	}{
		{
			name: "address refused", method: "POST", path: "/v3/login", body: `{"username":"Bob","password":"wrong-wrong-wrong"}`,
			refuseAddress: map[string]time.Duration{"127.0.0.1": 4200 * time.Millisecond},
			wantCode:      429, wantRetryAfter: "5", wantMessage: "too many login attempts; try again in 5s",
			wantAddrKeys: []string{"127.0.0.1"},
		},
		{
			name: "user refused, case-folded", method: "POST", path: "/v3/login", body: `{"username":"Bob","password":"wrong-wrong-wrong"}`,
			refuseUser: map[string]time.Duration{"bob": 59600 * time.Millisecond},
			wantCode:   429, wantRetryAfter: "61", wantMessage: "too many login attempts; try again in 1m1s",
			wantUserKeys: []string{"bob"}, wantAddrKeys: []string{"127.0.0.1"},
		},
		{
			name: "provider user refused", method: "POST", path: "/v3/login", body: `{"provider":"corp","username":"Bob","password":"wrong-wrong-wrong"}`,
			refuseUser: map[string]time.Duration{"corp:bob": time.Second},
			wantCode:   429, wantRetryAfter: "2", wantMessage: "too many login attempts; try again in 2s",
			wantUserKeys: []string{"corp:bob"}, wantAddrKeys: []string{"127.0.0.1"},
		},
		{
			name: "provider callback refused by address", method: "GET", path: "/v3/login/corp/callback?code=x&state=y",
			refuseAddress: map[string]time.Duration{"127.0.0.1": 0},
			wantCode:      429, wantRetryAfter: "1", wantMessage: "too many login attempts; try again in 1s",
			wantAddrKeys: []string{"127.0.0.1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users, addrs := &fakeLimiter{refuse: tc.refuseUser}, &fakeLimiter{refuse: tc.refuseAddress}
			a := New(Options{Logger: slog.New(slog.DiscardHandler), LoginsPerUser: users, LoginsPerAddress: addrs})
			srv := httptest.NewServer(chain.NewHandler(chain.Handlers{Logger: slog.New(slog.DiscardHandler), API: a}))
			defer srv.Close()
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var status struct {
				Kind, Reason, Message string
				Code                  int
			}
			if err := json.Unmarshal(raw, &status); err != nil {
				t.Fatalf("answer %q: %v", raw, err)
			}
			got := []any{resp.StatusCode, resp.Header.Get("Retry-After"), status.Kind, status.Reason, status.Code, status.Message}
			want := []any{tc.wantCode, tc.wantRetryAfter, "Status", "TooManyRequests", tc.wantCode, tc.wantMessage}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUserKeys, users.asked); diff != "" {
				t.Errorf("per-user keys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAddrKeys, addrs.asked); diff != "" {
				t.Errorf("per-address keys (-want +got):\n%s", diff)
			}
		})
	}
}
