package agentapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const saToken = "sa-secret-value-0123456789"

func validParams(tb testing.TB) AgentParams {
	return AgentParams{Protocol: Protocol, Kind: KindCluster, Endpoint: "10.0.0.1:6443", CACert: selfSignedPEM(tb), Token: saToken}
}

func TestParamsRoundTrip(t *testing.T) {
	ca := selfSignedPEM(t)
	tests := []struct {
		name string
		p    AgentParams
	}{
		{"cluster agent", AgentParams{Protocol: Protocol, Kind: KindCluster, Endpoint: "10.0.0.1:6443", CACert: ca, Token: saToken}},
		{"node agent", AgentParams{Protocol: Protocol, Kind: KindNode, Node: "worker-1.example", Endpoint: "[::1]:443", CACert: ca}},
		// Kubernetes allows node names up to 253 characters, with labels
		// longer than DNS's 63.
		{"longest node name", AgentParams{Protocol: Protocol, Kind: KindNode, Node: strings.Repeat("a", 253), Endpoint: "[::1]:443", CACert: ca}},
		{"node name with a long label", AgentParams{Protocol: Protocol, Kind: KindNode, Node: strings.Repeat("a", 64) + ".example", Endpoint: "[::1]:443", CACert: ca}},
		{"host name endpoint", AgentParams{Protocol: Protocol, Kind: KindCluster, Endpoint: "kubernetes.default.svc:443", CACert: ca, Token: saToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := tc.p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(enc, "+/= \r\n") {
				t.Errorf("encoded params %q are not unpadded base64url", enc)
			}
			got, err := ParseParams(enc)
			if err != nil {
				t.Fatalf("ParseParams(Encode()) = %v", err)
			}
			if diff := cmp.Diff(tc.p, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseParamsRejects(t *testing.T) {
	valid := validParams(t)
	// raw encodes a JSON object built from valid with changes applied.
	raw := func(change func(m map[string]any)) string {
		b, err := json.Marshal(valid)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	encode := func(p AgentParams) string {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	with := func(change func(p *AgentParams)) string {
		p := valid
		change(&p)
		return encode(p)
	}
	garbagePEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	tests := []struct {
		name    string
		params  string
		wantErr string
	}{
		{"missing", "", "missing agent parameters"},
		{"not base64url", "!!" + encode(valid), "not base64url"},
		{"std base64 with padding", base64.StdEncoding.EncodeToString([]byte(`{"kind":"nodes"}`)), "not base64url"},
		{"not JSON", base64.RawURLEncoding.EncodeToString([]byte("kind=cluster")), "not valid JSON"},
		{"trailing data", base64.RawURLEncoding.EncodeToString([]byte(`{"kind":"cluster"} {}`)), "trailing data"},
		{"claims a cluster", raw(func(m map[string]any) { m["clusterId"] = "c-beta" }), "not valid JSON"},
		{"unknown kind", with(func(p *AgentParams) { p.Kind = "admin" }), "agent kind"},
		{"cluster agent with node", with(func(p *AgentParams) { p.Node = "node-1" }), "no node name"},
		{"agent of protocol 1", with(func(p *AgentParams) { p.Protocol = 0 }), "older than the server"},
		{"agent of protocol 2 (no flow control)", with(func(p *AgentParams) { p.Protocol = 2 }), "older than the server"},
		{"node agent handing over a token", with(func(p *AgentParams) { p.Kind, p.Node = KindNode, "node-1" }), "no credential"},
		{"node agent without node", with(func(p *AgentParams) { p.Kind, p.Token = KindNode, "" }), "valid node name"},
		{"node name not DNS", with(func(p *AgentParams) { p.Kind, p.Node = KindNode, "Node_1" }), "valid node name"},
		{"node name too long", with(func(p *AgentParams) { p.Kind, p.Node = KindNode, strings.Repeat("a", 254) }), "valid node name"},
		{"node name upper case", with(func(p *AgentParams) { p.Kind, p.Node = KindNode, "Worker-1" }), "valid node name"},
		{"node name empty label", with(func(p *AgentParams) { p.Kind, p.Node = KindNode, "worker..example" }), "valid node name"},
		{"node name ends with dash", with(func(p *AgentParams) { p.Kind, p.Node = KindNode, "node-" }), "valid node name"},
		{"endpoint without port", with(func(p *AgentParams) { p.Endpoint = "127.0.0.1" }), "host:port"},
		{"endpoint port 0", with(func(p *AgentParams) { p.Endpoint = "127.0.0.1:0" }), "port must be"},
		{"endpoint port too high", with(func(p *AgentParams) { p.Endpoint = "127.0.0.1:65536" }), "port must be"},
		{"endpoint without host", with(func(p *AgentParams) { p.Endpoint = ":6443" }), "host:port"},
		{"no CA", with(func(p *AgentParams) { p.CACert = nil }), "no certificate"},
		{"CA not a certificate", with(func(p *AgentParams) { p.CACert = garbagePEM }), "unparsable"},
		{"no SA token", with(func(p *AgentParams) { p.Token = "" }), "ServiceAccount token"},
		{"SA token too long", with(func(p *AgentParams) { p.Token = strings.Repeat("a", 16<<10+1) }), "ServiceAccount token"},
		{"SA token splits headers", with(func(p *AgentParams) { p.Token = saToken + "\r\nImpersonate-User: system:admin" }), "not allowed in a header"},
		{"too large", strings.Repeat("A", MaxParamsLen+1), "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseParams(tc.params)
			if err == nil {
				t.Fatal("ParseParams accepted invalid parameters")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to mention %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), saToken) {
				t.Errorf("error %q quotes the SA token", err)
			}
		})
	}
}

func TestCertPool(t *testing.T) {
	ca := selfSignedPEM(t)
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("ignored")})
	tests := []struct {
		name    string
		pem     []byte
		wantErr string
	}{
		{"one certificate", ca, ""},
		{"two certificates", append(append([]byte{}, ca...), selfSignedPEM(t)...), ""},
		{"other blocks are skipped", append(append([]byte{}, key...), ca...), ""},
		{"empty", nil, "no certificate"},
		{"no certificate block", key, "no certificate"},
		{"not PEM", []byte("hello"), "no certificate"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), "unparsable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := CertPool(tc.pem)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && !strings.Contains(gotErr, tc.wantErr) {
				t.Fatalf("CertPool error %q, want %q", gotErr, tc.wantErr)
			}
			if err == nil && pool == nil {
				t.Error("CertPool returned no pool and no error")
			}
		})
	}
}

// FuzzParseParams checks that ParseParams never panics and that whatever it
// accepts is valid and survives an encode/parse round trip unchanged.
func FuzzParseParams(f *testing.F) {
	ca := selfSignedPEM(f)
	for _, p := range []AgentParams{
		{Protocol: Protocol, Kind: KindCluster, Endpoint: "10.0.0.1:6443", CACert: ca, Token: "eyJhbGciOiJSUzI1NiJ9.e30.sig"},
		{Protocol: Protocol, Kind: KindNode, Node: "worker-1.example", Endpoint: "[::1]:443", CACert: ca},
	} {
		enc, err := p.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add("")
	f.Add("e30") // {}
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"kind":"cluster","endpoint":"a:1","caCert":"","token":"x","extra":1}`)))
	f.Fuzz(func(t *testing.T, v string) {
		p, err := ParseParams(v)
		if err != nil {
			// Errors never quote the credential.
			if len(p.Token) >= 16 && !strings.ContainsAny(p.Token, " \t") && strings.Contains(err.Error(), p.Token) {
				t.Fatalf("error %q quotes the token", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParseParams accepted params that do not validate: %v", err)
		}
		enc, err := p.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		p2, err := ParseParams(enc)
		if err != nil {
			t.Fatalf("re-parse of encoded params: %v", err)
		}
		if diff := cmp.Diff(p, p2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// selfSignedPEM returns a fresh self-signed CA certificate.
func selfSignedPEM(tb testing.TB) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
