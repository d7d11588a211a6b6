package registry

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
)

// challengeOf is the S256 challenge of verifier.
func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestCheckCLILogin: a redirect is a loopback address as a browser reads
// it, however it is spelt (userinfo, backslashes, escapes, IPv6 forms).
func TestCheckCLILogin(t *testing.T) {
	ch := challengeOf(strings.Repeat("v", 43))
	for _, tc := range []struct {
		redirect string
		ok       bool
	}{
		{"paste", true},
		{"http://127.0.0.1:5555/drover-login/x", true},
		{"http://[::1]:5555/drover-login/x", true},
		{"http://127.0.0.1:5555", true},
		// Another host, however spelt.
		{"http://127.0.0.1:80@evil.example/", false},
		{"http://evil.example\\@127.0.0.1:5555/", false},
		{"http://evil.example%5c@127.0.0.1:5555/", false},
		{"http://127.0.0.1:5555\\@evil.example/", false},
		{"http://127.0.0.1:5555\\evil.example", false},
		{"http://evil.example#@127.0.0.1:5555/", false},
		{"http://evil.example?@127.0.0.1:5555/", false},
		{"http://127.0.0.1:5555#@evil.example", false},
		{"http://127.0.0.1:5555?@evil.example", false},
		{"//127.0.0.1:5555/x", false},
		{"http:/127.0.0.1:5555/x", false},
		{"http:127.0.0.1:5555", false},
		{"http://127.0.0.1.:5555/x", false},
		{"http://127.1:5555/x", false},
		{"http://2130706433:5555/x", false},
		{"http://0x7f.0.0.1:5555/x", false},
		{"http://%31%32%37.0.0.1:5555/x", false},
		{"http://127.0.0.1%2f@evil.example:5555/x", false},
		{"http://[::ffff:127.0.0.1]:5555/x", false},
		{"http://[::1%25lo]:5555/x", false},
		{"http://localhost:5555/x", false},
		{"http://127.0.0.1\t:5555/x", false},
		{"http://127.0.0.1:5555/x\r\nLocation: https://evil.example", false},
		{"https://127.0.0.1:5555/x", false},
		{"javascript://127.0.0.1:5555/%0aalert(1)", false},
		// No port, a port out of range.
		{"http://127.0.0.1/x", false},
		{"http://127.0.0.1:0/x", false},
		{"http://127.0.0.1:65536/x", false},
		{"http://127.0.0.1:+80/x", false},
		{"http://127.0.0.1:5555/" + strings.Repeat("a", 256), false},
	} {
		t.Run(tc.redirect, func(t *testing.T) {
			err := CheckCLILogin(CLILogin{Redirect: tc.redirect, Challenge: ch})
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrCLILogin) {
				t.Errorf("CheckCLILogin(%q) = %v; want ok %v", tc.redirect, err, tc.ok)
			}
		})
	}
}

// TestAttackHandOffOutlivesSpent (a red-team finding, now fixed: the test
// keeps it so) was: a one-time code is remembered as spent for
// PendingTTL, but lives handOffTTL (two minutes); with a PendingTTL
// shorter than that, a redeemed code was forgotten while still valid and
// could be redeemed again (a second session from one login).
func TestAttackHandOffOutlivesSpent(t *testing.T) {
	for _, ttl := range []time.Duration{time.Minute, 10 * time.Minute} {
		t.Run(ttl.String(), func(t *testing.T) {
			b := newBed(t)
			opts := b.reg.opts
			opts.PendingTTL = ttl
			b.reg = New(opts)
			verifier := strings.Repeat("v", 43)
			code, err := b.reg.HandOff("id-alice", CLILogin{Redirect: PasteCode, Challenge: challengeOf(verifier)})
			if err != nil {
				t.Fatal(err)
			}
			if id, err := b.reg.Redeem(code, verifier); err != nil || id != "id-alice" {
				t.Fatalf("Redeem = %q, %v", id, err)
			}
			redeemed := b.clock.Now()
			for _, after := range []time.Duration{time.Second, 90 * time.Second, 119 * time.Second} {
				b.clock.Set(redeemed.Add(after))
				if id, err := b.reg.Redeem(code, verifier); !errors.Is(err, providers.ErrInvalidCredentials) {
					t.Errorf("the code again %v on: %q, %v; want ErrInvalidCredentials", after, id, err)
				}
			}
		})
	}
}
