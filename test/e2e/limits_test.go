package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/drover-dev/drover/test/harness"
)

// limitsEnv is a server of its own with small caps: 8 connections per
// address, 24 in all, 2 s for a body to start coming, 127.0.0.4 trusted
// as a proxy. The whole of 127.0.0.0/8 is loopback, so 127.0.0.2,
// 127.0.0.3... are distinct clients.
type limitsEnv struct {
	srv        *harness.Server
	admin      string
	metricsURL string
	auditPath  string
	pool       *x509.CertPool
}

const (
	limitPerAddress = 8
	limitTotal      = 24
)

func startLimitsEnv(ctx context.Context, t *testing.T) *limitsEnv {
	t.Helper()
	dir := t.TempDir()
	maddr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	e := &limitsEnv{metricsURL: "http://" + maddr + "/metrics", auditPath: filepath.Join(dir, "audit.log")}
	e.srv, err = harness.StartServer(ctx, harness.ServerOptions{Bin: shared.bins.Server, DataDir: filepath.Join(dir, "server"),
		// Harness clients run from 127.0.0.1.
		Listen: "", Args: []string{
			fmt.Sprintf("--max-connections=%d", limitTotal), fmt.Sprintf("--max-connections-per-address=%d", limitPerAddress),
			"--trusted-proxies=127.0.0.4", "--request-body-timeout=2s", "--metrics-listen", maddr,
			"--audit-log", e.auditPath,
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.srv.Stop(10 * time.Second) })
	if e.admin, err = e.srv.Login(ctx, "admin", e.srv.AdminPassword); err != nil {
		t.Fatal(err)
	}
	e.pool = x509.NewCertPool()
	e.pool.AppendCertsFromPEM(e.srv.CAPEM)
	return e
}

// dial opens a TLS connection from a loopback source address, offering
// protos.
func (e *limitsEnv) dial(src string, protos ...string) (*tls.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", e.srv.Listen, &tls.Config{RootCAs: e.pool, ServerName: "127.0.0.1", NextProtos: protos})
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, nil
}

// get sends one HTTP/1.1 request on c (kept alive) and returns the status.
func get(c net.Conn, path string, header http.Header) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, "https://drover"+path, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	if err := req.Write(c); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// client is an HTTP client from a loopback source address.
func (e *limitsEnv) client(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: e.pool}, ForceAttemptHTTP2: true}}
}

// TestLimits runs the bounds on what one client may hold against the real
// server: connection caps per address and in total (an agent still
// connects and stays), the slow body, 431 for oversized headers over
// HTTP/1.1 and HTTP/2, and forwarded client addresses from trusted
// proxies only.
func TestLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	e := startLimitsEnv(ctx, t)
	t.Run("headers", e.testHeaders)
	t.Run("slow body", e.testSlowBody)
	t.Run("forwarded client address", e.testForwarded)
	t.Run("connection caps", e.testConnCaps)
}

// testHeaders: headers over 64 KiB are answered 431 over HTTP/1.1 and
// HTTP/2. Over HTTP/2, Go answers 431 when the list ends a little over the
// cap (within the frame that crossed it); a block that goes on past that
// is a connection error (its guard against CONTINUATION floods), and one
// field longer than the whole cap a compression error (the HPACK decoder
// refuses the string): GOAWAY, no answer, nothing held.
func (e *limitsEnv) testHeaders(t *testing.T) {
	fields := func(n, size int) http.Header {
		h := http.Header{}
		for i := range n {
			h.Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("x", size))
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		wantH1 int
		wantH2 string // the status, or the error
	}{
		{"60 KiB in one field", fields(1, 60<<10), 200, "200"},
		{"60 KiB in 15 fields", fields(15, 4<<10), 200, "200"},
		{"69 KiB in 70 fields", fields(70, 1000), 431, "431"},
		{"80 KiB in 20 fields", fields(20, 4<<10), 431, "goaway: PROTOCOL_ERROR"},
		{"80 KiB in one field", fields(1, 80<<10), 431, "goaway: COMPRESSION_ERROR"},
	} {
		t.Run("HTTP/1.1 "+tc.name, func(t *testing.T) {
			c, err := e.dial("127.0.0.6", "http/1.1")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			code, err := get(c, "/healthz", tc.header)
			if err != nil || code != tc.wantH1 {
				t.Errorf("got %d %v, want %d", code, err, tc.wantH1)
			}
		})
		t.Run("HTTP/2 "+tc.name, func(t *testing.T) {
			code, err := e.h2Status("127.0.0.6", tc.header)
			got := fmt.Sprint(code)
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantH2 {
				t.Errorf("got %s, want %s", got, tc.wantH2)
			}
		})
	}
}

// h2Status sends GET /healthz with header over a raw HTTP/2 connection,
// paying no heed to the server's advertised header list size (Go's client
// would refuse to send), and returns the answer's status.
func (e *limitsEnv) h2Status(src string, header http.Header) (int, error) {
	c, err := e.dial(src, "h2")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		return 0, fmt.Errorf("negotiated %q", p)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return 0, err
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	if err := fr.WriteSettings(); err != nil {
		return 0, err
	}
	var block strings.Builder
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: "127.0.0.1"}, {Name: ":path", Value: "/healthz"}} {
		enc.WriteField(f)
	}
	for k, vs := range header {
		for _, v := range vs {
			enc.WriteField(hpack.HeaderField{Name: strings.ToLower(k), Value: v})
		}
	}
	// Frames of at most 16 KiB (the default SETTINGS_MAX_FRAME_SIZE); the
	// last one 14000 bytes, so that a list a little over the cap crosses
	// it within the last frame.
	b := []byte(block.String())
	var frags [][]byte
	head, last := b[:len(b)-min(len(b), 14000)], b[len(b)-min(len(b), 14000):]
	for len(head) > 0 {
		n := min(len(head), 16<<10)
		frags, head = append(frags, head[:n]), head[n:]
	}
	frags = append(frags, last)
	for i, frag := range frags {
		end := i == len(frags)-1
		if i == 0 {
			err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag, EndStream: true, EndHeaders: end})
		} else {
			err = fr.WriteContinuation(1, end, frag)
		}
		if err != nil {
			return 0, err
		}
	}
	for range 100 {
		f, err := fr.ReadFrame()
		if err != nil {
			return 0, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				var code int
				fmt.Sscan(f.PseudoValue("status"), &code)
				return code, nil
			}
		case *http2.RSTStreamFrame:
			return 0, fmt.Errorf("stream reset: %v", f.ErrCode)
		case *http2.GoAwayFrame:
			return 0, fmt.Errorf("goaway: %v", f.ErrCode)
		}
	}
	return 0, errors.New("no answer in 100 frames")
}

// testSlowBody: a body that trickles in a byte every 200 ms is cut after
// the 2 s --request-body-timeout (and the little its bytes earn), not
// held for the minute it would take.
func (e *limitsEnv) testSlowBody(t *testing.T) {
	c, err := e.dial("127.0.0.5", "http/1.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, "POST /v3/login HTTP/1.1\r\nHost: drover\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	answered := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c) // the answer, then the close; or the close
		answered <- string(b)
	}()
	var got string
loop:
	for range 300 {
		select {
		case got = <-answered:
			break loop
		case <-time.After(200 * time.Millisecond):
			c.Write([]byte("{"))
		}
	}
	elapsed := time.Since(start)
	t.Logf("the slow body was cut after %s: %.60q", elapsed.Round(time.Millisecond), got)
	if elapsed < 1500*time.Millisecond || elapsed > 8*time.Second {
		t.Errorf("cut after %s, want about 2 s", elapsed)
	}
	// The server still serves that address.
	cl := e.client("127.0.0.5")
	defer cl.CloseIdleConnections()
	if resp, err := cl.Get(e.srv.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("after the slow body: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// testForwarded: a trusted proxy (127.0.0.4) names the client in
// X-Forwarded-For, and the audit log and the login limits follow it;
// anyone else's header is ignored.
func (e *limitsEnv) testForwarded(t *testing.T) {
	login := func(src, forwarded string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v3/login", strings.NewReader(`{"username":"nobody","password":"wrong-password-1"}`))
		if forwarded != "" {
			req.Header.Set("X-Forwarded-For", forwarded)
		}
		cl := e.client(src)
		defer cl.CloseIdleConnections()
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The per-address limit (30 at once) of 198.51.100.7, forwarded by
	// the trusted proxy.
	for i := range 30 {
		if code := login("127.0.0.4", "198.51.100.7"); code != 401 && code != 429 {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	for _, tc := range []struct {
		name, src, forwarded string
		want                 int
	}{
		{"the forwarded client is limited", "127.0.0.4", "198.51.100.7", 429},
		{"another client behind the same proxy is not", "127.0.0.4", "198.51.100.8", 401},
		{"an untrusted peer's header is ignored: it is limited as itself", "127.0.0.5", "198.51.100.7", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := login(tc.src, tc.forwarded); code != tc.want {
				t.Errorf("got %d, want %d", code, tc.want)
			}
		})
	}
	// The audit log names the forwarded client for the proxy's requests,
	// the peer for anyone else's.
	clients := map[string]bool{}
	raw, err := os.ReadFile(e.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var entry struct{ Path, Client string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Path == "/v3/login" {
			clients[entry.Client] = true
		}
	}
	for client, want := range map[string]bool{"198.51.100.7": true, "198.51.100.8": true, "127.0.0.5": true, "127.0.0.4": false} {
		if clients[client] != want {
			t.Errorf("audit client %s recorded: %v, want %v (clients: %v)", client, clients[client], want, clients)
		}
	}
}

// testConnCaps: slow connections from one address fill its cap and no
// more; another address is served and an agent connects; then the total
// fills and the agent's tunnel, counted apart, is neither evicted nor
// counted in it, and carries kubectl once the flood is gone.
func (e *limitsEnv) testConnCaps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id, reg, err := e.srv.CreateCluster(ctx, e.admin, "limits")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := e.srv.Kubeconfig(ctx, e.admin, []string{id}, "1h")
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, kubeconfig, kc)

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// hold opens a connection that stays: TLS, one request, then idle
	// (the server keeps it for its 2 min idle timeout).
	hold := func(src string) error {
		c, err := e.dial(src, "http/1.1")
		if err != nil {
			return err
		}
		if _, err := get(c, "/healthz", nil); err != nil {
			c.Close()
			return err
		}
		held = append(held, c)
		return nil
	}
	for i := range limitPerAddress {
		if err := hold("127.0.0.2"); err != nil {
			t.Fatalf("connection %d of 127.0.0.2: %v", i+1, err)
		}
	}
	if err := hold("127.0.0.2"); err == nil {
		t.Fatal("a connection over the per-address cap was served")
	}
	if err := hold("127.0.0.3"); err != nil {
		t.Fatalf("another address while 127.0.0.2 is at its cap: %v", err)
	}
	agent, err := harness.StartAgent(harness.AgentOptions{
		Bin: shared.bins.Agent, Dir: t.TempDir(), ServerURL: e.srv.URL, CAChecksum: reg.CAChecksum, Token: reg.Token,
		Kubeconfig: filepath.Join(shared.dir, "direct-kubeconfig"), Kind: "cluster",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop(5 * time.Second)
	if err := e.srv.WaitConnected(ctx, e.admin, id, "cluster"); err != nil {
		t.Fatalf("the agent did not connect while 127.0.0.2 was at its cap: %v", err)
	}
	if v := metricValue(ctx, t, e.metricsURL, "drover_connections", `pool="agent"`); v != 1 {
		t.Errorf("agent pool %v, want 1", v)
	}
	// Fill the total from fresh addresses, one connection each.
	full := false
	for i := range limitTotal {
		if err := hold(fmt.Sprintf("127.0.1.%d", i+1)); err != nil {
			full = true
			break
		}
	}
	if !full {
		t.Fatalf("%d more connections and the total cap of %d never refused one", limitTotal, limitTotal)
	}
	for _, m := range []struct {
		name, match string
		want        float64
	}{
		{"drover_connections", `pool="ordinary"`, limitTotal},
		{"drover_connections", `pool="agent"`, 1},
		{"drover_tunnel_sessions", `kind="cluster"`, 1},
	} {
		if v := metricValue(ctx, t, e.metricsURL, m.name, m.match); v != m.want {
			t.Errorf("%s{%s} = %v during the flood, want %v", m.name, m.match, v, m.want)
		}
	}
	for _, c := range []string{"address", "total"} {
		if v := metricValue(ctx, t, e.metricsURL, "drover_connections_refused_total", `cap="`+c+`"`); v < 1 {
			t.Errorf("no connection refused by the %s cap in the metrics", c)
		}
	}
	for _, c := range held {
		c.Close()
	}
	held = nil
	// The flood is gone; the tunnel that lived through it carries kubectl.
	var out string
	for range 50 { // the server notices the closed connections at once; allow it a moment
		if out, err = kubectl(ctx, t, kubeconfig, "get", "ns", "default", "-o", "name"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || !strings.Contains(out, "namespace/default") {
		t.Errorf("kubectl through the agent after the flood: %q %v", out, err)
	}
}

// metricValue scrapes url and returns the sum of a metric's samples whose
// labels contain match.
func metricValue(ctx context.Context, t *testing.T, url, name, match string) float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || !strings.Contains(line, match) {
			continue
		}
		if rest := strings.TrimPrefix(line, name); rest != "" && rest[0] != '{' && rest[0] != ' ' {
			continue // a longer metric name
		}
		fields := strings.Fields(line)
		var v float64
		if _, err := fmt.Sscan(fields[len(fields)-1], &v); err == nil {
			sum += v
		}
	}
	return sum
}
