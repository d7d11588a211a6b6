package authproxy_test

import (
	"encoding/pem"
	"net/http"
	"strings"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/test/agentproc"
)

// agentEnv carries a child agent's spec (see agentproc.RunIfChild).
const agentEnv = "DROVER_AUTHPROXY_TEST_AGENT"

// startAgent runs an agent for the sandwich's tunnel server in a child
// process (package agentproc says why out of process).
func (s *sandwich) startAgent(regToken string, p agentapi.AgentParams) *agentproc.Agent {
	s.t.Helper()
	enc, err := p.Encode()
	if err != nil {
		s.t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+regToken)
	h.Set(agentapi.ParamsHeader, enc)
	return agentproc.Start(s.t, agentEnv, agentproc.Spec{
		URL:      "wss://" + strings.TrimPrefix(s.proxy.URL, "https://") + agentapi.ConnectPath,
		ServerCA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.proxy.Certificate().Raw}),
		Header:   h,
		Endpoint: p.Endpoint,
	})
}
