package tunnel

import (
	"net/http"
	"strings"
)

// Session.dialTLS dials again a connection whose TLS handshake the
// connection sync cut, which is the common case. A narrower one remains:
// the agent builds its list before it takes the websocket's write lock, so
// a list that waited for the lock can arrive after the first bytes of a
// stream it does not name, and cut it after the handshake, with a request
// on it. Reading twice is harmless, so a GET or HEAD without a body is sent
// once more; anything else may have reached the apiserver and is not.

// syncRetry is a RoundTripper that retries, once, a read the tunnel's
// connection sync cut.
type syncRetry struct{ rt http.RoundTripper }

func (s syncRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.rt.RoundTrip(req)
	if err != nil && retryAfterSync(req, err) {
		return s.rt.RoundTrip(req)
	}
	return resp, err
}

// retryAfterSync says whether req, which failed with err, may be sent
// again: a bodiless GET or HEAD that is not an upgrade (exec, attach and
// port-forward are GETs that act), whose client is still there, cut by
// the connection sync.
func retryAfterSync(req *http.Request, err error) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		(req.Body == nil || req.Body == http.NoBody) &&
		req.Header.Get("Upgrade") == "" &&
		req.Context().Err() == nil &&
		strings.Contains(err.Error(), syncClosed)
}
