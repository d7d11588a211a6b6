package agentapi

import "errors"

// VersionHeader carries the agent's build version (package version: what
// its --version prints) on the connect request, apart from ParamsHeader:
// servers that predate it ignore an unknown header, while they refuse an
// unknown field in the parameters, so an agent that sends it still
// connects to an older server (a server replica not yet upgraded). Agents
// that predate it send none; the server then knows only their image.
const VersionHeader = "X-Drover-Agent-Version"

// MaxVersionLen bounds the version header.
const MaxVersionLen = 128

// ParseVersion validates a VersionHeader value: empty (an agent that does
// not say), or up to MaxVersionLen characters of A-Z a-z 0-9 . _ + - (what
// git describe and Go module versions are made of). Errors never quote the
// input.
func ParseVersion(v string) (string, error) {
	if len(v) > MaxVersionLen {
		return "", errors.New("agent version too long")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-'
		if !ok {
			return "", errors.New("agent version has characters other than A-Z a-z 0-9 . _ + -")
		}
	}
	return v, nil
}
