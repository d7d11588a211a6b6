package token

import (
	"net/http"
	"strings"
)

// Bearer returns the single bearer credential of the request, trimmed, and
// whether there is one. The scheme is matched in any case. Several
// Authorization headers are refused: which one a backend would use is not
// something to leave to chance. The credential is not parsed: user tokens,
// session JWTs and registration tokens all arrive this way.
func Bearer(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, raw, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	raw = strings.TrimSpace(raw)
	return raw, raw != ""
}
