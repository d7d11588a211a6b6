package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	const addr = "127.0.0.1"
	tests := []struct {
		name              string
		method, path      string
		body              string
		refuseAddress     map[string]time.Duration
		refuseUserAddress map[string]time.Duration
		refuseUser        map[string]time.Duration
		wantCode          int
		wantRetryAfter    string
		wantMessage       string
		wantAddrKeys      []string
		wantUserAddrKeys  []string
		wantUserKeys      []string
	}{
		{
			name: "address refused", method: "POST", path: "/v3/login", body: `{"username":"Bob","password":"wrong-wrong-wrong"}`,
			refuseAddress: map[string]time.Duration{addr: 4200 * time.Millisecond},
			wantCode:      429, wantRetryAfter: "5", wantMessage: "too many login attempts; try again in 5s",
			wantAddrKeys: []string{addr},
		},
		{
			name: "user at this address refused: the user's ceiling is not spent", method: "POST", path: "/v3/login",
			body:              `{"username":"Bob","password":"wrong-wrong-wrong"}`,
			refuseUserAddress: map[string]time.Duration{"bob\x00" + addr: 5 * time.Second},
			wantCode:          429, wantRetryAfter: "6", wantMessage: "too many login attempts; try again in 6s",
			wantAddrKeys: []string{addr}, wantUserAddrKeys: []string{"bob\x00" + addr},
		},
		{
			name: "user refused, case-folded", method: "POST", path: "/v3/login", body: `{"username":"Bob","password":"wrong-wrong-wrong"}`,
			refuseUser: map[string]time.Duration{"bob": 59600 * time.Millisecond},
			wantCode:   429, wantRetryAfter: "61", wantMessage: "too many login attempts; try again in 1m1s",
			wantAddrKeys: []string{addr}, wantUserAddrKeys: []string{"bob\x00" + addr}, wantUserKeys: []string{"bob"},
		},
		{
			name: "provider user refused under the provider's key of a padded name", method: "POST", path: "/v3/login",
			body:       `{"provider":"corp","username":"  Bob ","password":"wrong-wrong-wrong"}`,
			refuseUser: map[string]time.Duration{"corp:bob": time.Second},
			wantCode:   429, wantRetryAfter: "2", wantMessage: "too many login attempts; try again in 2s",
			wantAddrKeys: []string{addr}, wantUserAddrKeys: []string{"corp:bob\x00" + addr}, wantUserKeys: []string{"corp:bob"},
		},
		{
			name: "provider callback refused by address", method: "GET", path: "/v3/login/sso/callback?code=x&state=y",
			refuseAddress: map[string]time.Duration{addr: 0},
			wantCode:      429, wantRetryAfter: "1", wantMessage: "too many login attempts; try again in 1s",
			wantAddrKeys: []string{addr},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addrs, userAddrs, users := &fakeLimiter{refuse: tc.refuseAddress}, &fakeLimiter{refuse: tc.refuseUserAddress},
				&fakeLimiter{refuse: tc.refuseUser}
			f, _, _, _ := newProviderFixture(t)
			a := New(Options{Logger: slog.New(slog.DiscardHandler), Providers: f.providers, Local: f.local,
				LoginsPerAddress: addrs, LoginsPerUserAddress: userAddrs, LoginsPerUser: users})
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
			for _, l := range []struct {
				name  string
				want  []string
				asked *fakeLimiter
			}{{"per-address", tc.wantAddrKeys, addrs}, {"per-user-and-address", tc.wantUserAddrKeys, userAddrs}, {"per-user", tc.wantUserKeys, users}} {
				if diff := cmp.Diff(l.want, l.asked.asked); diff != "" {
					t.Errorf("%s keys (-want +got):\n%s", l.name, diff)
				}
			}
		})
	}
}

// TestLoginLimitsSpareTheOwner: attackers guess a user's password from
// their addresses (forwarded by a trusted proxy), then the owner logs in
// from theirs. An attacker at one address, whatever spelling of the name
// it tries, never locks the owner out; only as many addresses as the
// user's ceiling takes do (the bound on a distributed guess), or sharing
// the owner's address.
func TestLoginLimitsSpareTheOwner(t *testing.T) {
	attackers := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, "198.51.100."+strconv.Itoa(10+i))
		}
		return out
	}
	tests := []struct {
		name      string
		provider  string // "": local
		victim    string // the owner's name
		spellings []string
		attackers []string
		attempts  int // per attacker address
		owner     string
		want      int // the owner's answer
		wantTried int // attempts that reached the password check, per attacker address
	}{
		{"local: one address, many attempts", "", "carol", []string{"carol"}, attackers(1), 50, "203.0.113.5", 200, 10},
		{"local: respelled", "", "carol", []string{"carol", "Carol", "CAROL"}, attackers(1), 50, "203.0.113.5", 200, 10},
		{"directory: one address", "corp", "alice", []string{"alice"}, attackers(1), 50, "203.0.113.5", 200, 10},
		{"directory: padded and cased names share the user's limit", "corp", "alice",
			[]string{"alice", " alice", "alice ", "  ALICE  ", "Alice"}, attackers(1), 50, "203.0.113.5", 200, 10},
		{"directory: nine addresses stay under the ceiling", "corp", "alice", []string{"alice"}, attackers(9), 12, "203.0.113.5", 200, 10},
		{"directory: the ceiling bounds a distributed guess", "corp", "alice", []string{"alice"}, attackers(10), 12, "203.0.113.5", 429, 10},
		{"an IPv6 attacker gains nothing by changing addresses in its /64", "corp", "alice", []string{"alice"},
			[]string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::3"}, 10, "2001:db8:9::1", 200, 0},
		{"the owner behind the attacker's address is limited with it", "corp", "alice", []string{"alice"}, attackers(1), 10,
			"198.51.100.10", 429, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _, _, _ := newProviderFixture(t) // its clock stands still
			password := "a-long-enough-password"
			if tc.provider != "" {
				password = fakePassword
			}
			tried := map[string]int{}
			for _, addr := range tc.attackers {
				for i := range tc.attempts {
					name := tc.spellings[i%len(tc.spellings)]
					switch code := f.loginFrom(t, addr, tc.provider, name, "wrong-password-guess"); code {
					case 401:
						tried[addr]++
					case 429:
					default:
						t.Fatalf("attempt from %s: %d", addr, code)
					}
				}
			}
			if tc.wantTried > 0 {
				for _, addr := range tc.attackers {
					if tried[addr] != tc.wantTried {
						t.Errorf("%s tried %d passwords, want %d", addr, tried[addr], tc.wantTried)
					}
				}
			} else if total := sumValues(tried); total != 10 {
				t.Errorf("the /64 tried %d passwords in all, want 10", total)
			}
			if got := f.loginFrom(t, tc.owner, tc.provider, tc.victim, password); got != tc.want {
				t.Errorf("the owner's login from %s: %d, want %d", tc.owner, got, tc.want)
			}
		})
	}
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// loginFrom logs in as if from addr: the fixture trusts its own loopback
// peer to forward the client's address.
func (f *fixture) loginFrom(t *testing.T, addr, provider, user, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"provider": provider, "username": user, "password": password})
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/v3/login", strings.NewReader(string(body)))
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
