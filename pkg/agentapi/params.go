package agentapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ParamsHeader carries the base64url JSON AgentParams on the connect request.
const ParamsHeader = "X-Drover-Agent-Params"

// MaxParamsLen bounds the header value before any decoding.
const MaxParamsLen = 32 << 10

// Agent kinds.
const (
	KindCluster = "cluster"
	KindNode    = "node"
)

// Protocol is the version of this contract that agents and the server of
// this build speak. Version 2: the cluster agent hands over the controller's
// ServiceAccount token; node agents hand over no credential at all.
// Version 3: the server dials the agent's endpoint with NetworkFlow, whose
// streams carry pkg/flow's frames. Older agents are refused with
// ErrOldAgent: version 1 handed over a token that could impersonate anyone;
// version 2's streams have only remotedialer's back pressure, which
// deadlocks, and which an agent may ignore to make the server buffer
// without bound.
const Protocol = 3

// ErrOldAgent refuses an agent of an older protocol; the message says what
// to do, and the server shows it in the cluster's status.
var ErrOldAgent = errors.New("this agent is older than the server (agent protocol 1 or 2, server protocol 3): " +
	"re-apply the cluster's import manifest (kubectl apply -f <import URL>) to upgrade it")

// The networks the server asks an agent to dial through the tunnel.
// NetworkFlow is how users' and the controller's streams reach the agent's
// Endpoint, in pkg/flow's frames; NetworkTCP carries bytes as they are,
// and the server uses it only for ProbeAddress.
const (
	NetworkTCP  = "tcp"
	NetworkFlow = "tcp+flow"
)

// AgentParams is what an agent tells the server when it connects.
type AgentParams struct {
	// Protocol is the agent's version of this contract (Protocol).
	Protocol int    `json:"protocol,omitempty"`
	Kind     string `json:"kind"`
	// Node is the node name of a node agent; empty for the cluster agent.
	Node string `json:"node,omitempty"`
	// Endpoint is the host:port of the downstream apiserver, as the agent
	// dials it. The server's transport dials only this.
	Endpoint string `json:"endpoint"`
	// CACert is the PEM CA bundle that verifies Endpoint.
	CACert []byte `json:"caCert"`
	// Token is the cluster agent's hand-over: a bound token of the
	// controller's ServiceAccount (downstream.ControllerServiceAccount).
	// Node agents hand over nothing: they carry bytes, never trust.
	Token string `json:"token,omitempty"`
}

// Encode returns the header value.
func (p AgentParams) Encode() (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode agent params: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ParseParams decodes and validates a header value. Errors never quote the
// input: it carries a credential.
func ParseParams(v string) (AgentParams, error) {
	if v == "" {
		return AgentParams{}, errors.New("missing agent parameters")
	}
	if len(v) > MaxParamsLen {
		return AgentParams{}, errors.New("agent parameters too large")
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return AgentParams{}, errors.New("agent parameters are not base64url")
	}
	var p AgentParams
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return AgentParams{}, errors.New("agent parameters are not valid JSON")
	}
	if dec.More() {
		return AgentParams{}, errors.New("agent parameters have trailing data")
	}
	return p, p.Validate()
}

// Validate checks every field.
func (p AgentParams) Validate() error {
	if p.Protocol < Protocol {
		return ErrOldAgent
	}
	switch p.Kind {
	case KindCluster:
		if p.Node != "" {
			return errors.New("a cluster agent has no node name")
		}
	case KindNode:
		// Kubernetes' own rule for node names.
		if len(validation.IsDNS1123Subdomain(p.Node)) > 0 {
			return errors.New("node agent needs a valid node name (DNS-1123 subdomain)")
		}
	default:
		return errors.New(`agent kind must be "cluster" or "node"`)
	}
	host, port, err := net.SplitHostPort(p.Endpoint)
	if err != nil || host == "" {
		return errors.New("endpoint must be host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("endpoint port must be 1-65535")
	}
	if _, err := CertPool(p.CACert); err != nil {
		return err
	}
	if p.Kind == KindNode {
		if p.Token != "" {
			return errors.New("a node agent hands over no credential")
		}
		return nil
	}
	if p.Token == "" || len(p.Token) > 16<<10 {
		return errors.New("a cluster agent hands over a ServiceAccount token")
	}
	for i := 0; i < len(p.Token); i++ {
		if c := p.Token[i]; c < 0x21 || c > 0x7e {
			return errors.New("ServiceAccount token has characters not allowed in a header")
		}
	}
	return nil
}
