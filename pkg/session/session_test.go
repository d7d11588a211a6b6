package session

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/drover-dev/drover/test/fake"
)

func TestSessions(t *testing.T) {
	clk := fake.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	opts := Options{Dir: dir, TTL: time.Hour, RotateEvery: 24 * time.Hour, Now: clk.Now}
	k, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := k.Sign("u-0000000001", "s-0000000001")
	if err != nil {
		t.Fatal(err)
	}
	if exp != clk.Now().Add(time.Hour) {
		t.Errorf("expiry %v", exp)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if !strings.Contains(string(header), `"kid":"k-`) || !strings.Contains(string(header), `"alg":"HS256"`) {
		t.Errorf("header %s", header)
	}
	if sid, uid, err := k.Verify(tok); err != nil || sid != "s-0000000001" || uid != "u-0000000001" {
		t.Fatalf("Verify = %q %q %v", sid, uid, err)
	}

	// A restart loads the same keys.
	k2, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := k2.Verify(tok); err != nil {
		t.Fatalf("after reload: %v", err)
	}

	// Rotation: the old key still verifies its tokens until they expire.
	if err := k.Rotate(); err != nil {
		t.Fatal(err)
	}
	tok2, _, _ := k.Sign("u-0000000001", "s-0000000002")
	if kid(t, tok2) == kid(t, tok) {
		t.Error("rotation did not change the signing key")
	}
	clk.Add(30 * time.Minute)
	k.Maintain()
	if _, _, err := k.Verify(tok); err != nil {
		t.Errorf("old key's live token refused after rotation: %v", err)
	}
	clk.Add(31 * time.Minute)
	if _, _, err := k.Verify(tok); err == nil {
		t.Error("expired token accepted")
	}
	k.Maintain()
	if len(k.keys) != 1 {
		t.Errorf("%d keys kept; the retired one should be dropped", len(k.keys))
	}
	clk.Add(-61 * time.Minute) // even if it had not expired, its key is gone
	if _, _, err := k.Verify(tok); err == nil || !strings.Contains(err.Error(), "retired") {
		t.Errorf("token of a dropped key: %v", err)
	}
	clk.Add(61 * time.Minute)

	// Automatic rotation once the newest key is RotateEvery old.
	before := kid(t, tok2)
	clk.Add(25 * time.Hour)
	k.Maintain()
	tok3, _, _ := k.Sign("u-0000000001", "s-0000000003")
	if kid(t, tok3) == before {
		t.Error("no automatic rotation after RotateEvery")
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Now()
	k, err := Open(Options{Dir: t.TempDir(), TTL: time.Hour, RotateEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	good, _, _ := k.Sign("u-0000000001", "s-0000000001")
	signer := k.keys[0]
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
		tk := jwt.NewWithClaims(method, claims)
		if kid != "" {
			tk.Header["kid"] = kid
		}
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "https://drover", "sub": "u-0000000001", "jti": "s-0000000001", "exp": now.Add(time.Hour).Unix()}
	}
	noExp := base()
	delete(noExp, "exp")
	otherIss := base()
	otherIss["iss"] = "evil"
	noJTI := base()
	delete(noJTI, "jti")
	noSub := base()
	delete(noSub, "sub")
	tokenJTI := base() // the id of another kind of row
	tokenJTI["jti"] = "t-0000000001"
	shortSub := base()
	shortSub["sub"] = "u-1"
	parts := strings.Split(good, ".")
	tests := map[string]string{
		"alg none":              sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base(), signer.ID),
		"HS512":                 sign(jwt.SigningMethodHS512, signer.Secret, base(), signer.ID),
		"wrong key":             sign(jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), base(), signer.ID),
		"unknown kid":           sign(jwt.SigningMethodHS256, signer.Secret, base(), "k-other"),
		"no kid":                sign(jwt.SigningMethodHS256, signer.Secret, base(), ""),
		"no expiry":             sign(jwt.SigningMethodHS256, signer.Secret, noExp, signer.ID),
		"not a server's issuer": sign(jwt.SigningMethodHS256, signer.Secret, otherIss, signer.ID),
		"no session":            sign(jwt.SigningMethodHS256, signer.Secret, noJTI, signer.ID),
		"no user":               sign(jwt.SigningMethodHS256, signer.Secret, noSub, signer.ID),
		"not a session id":      sign(jwt.SigningMethodHS256, signer.Secret, tokenJTI, signer.ID),
		"not a user id":         sign(jwt.SigningMethodHS256, signer.Secret, shortSub, signer.ID),
		"tampered claims":       parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://drover","sub":"u-admin","jti":"s-0000000001","exp":9999999999}`)) + "." + parts[2],
		"garbage":               "a.b.c",
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := k.Verify(raw); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func kid(t *testing.T, raw string) string {
	t.Helper()
	tk, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return tk.Header["kid"].(string)
}

func FuzzVerify(f *testing.F) {
	k, err := Open(Options{Dir: f.TempDir(), TTL: time.Hour, RotateEvery: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	good, _, _ := k.Sign("u-0000000001", "s-0000000001")
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Fuzz(func(t *testing.T, raw string) {
		// Only what was signed may come out: the one session it signed.
		if sid, uid, err := k.Verify(raw); err == nil && (sid != "s-0000000001" || uid != "u-0000000001") {
			t.Fatalf("accepted a token it did not sign: %q -> %q %q", raw, sid, uid)
		}
	})
}
