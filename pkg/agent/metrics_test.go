package agent

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMetricsHandler(t *testing.T) {
	m := NewMetrics()
	m.Connects.Inc()
	m.Connected.Set(1)
	m.Dials.WithLabelValues("refused").Inc()
	m.Refusals.WithLabelValues("401").Inc()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		line string
	}{
		{"connects", "drover_agent_connects_total 1"},
		{"connected", "drover_agent_connected 1"},
		{"dials by result", `drover_agent_dials_total{result="refused"} 1`},
		{"refusals by status", `drover_agent_refusals_total{code="401"} 1`},
		{"runtime collector", "go_goroutines "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(body), "\n"+tc.line) {
				t.Errorf("/metrics lacks %q:\n%s", tc.line, body)
			}
		})
	}
	// A second registry is independent: no global state.
	if other := NewMetrics(); other.registry == m.registry {
		t.Error("two agents share a registry")
	}
}
