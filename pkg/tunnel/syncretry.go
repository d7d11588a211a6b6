package tunnel

import (
	"net/http"
	"strings"
)

// remotedialer's agent sends the server the ids of its open connections
// once a minute, and the server closes each of its own that is not in the
// list ("sync from client"). A connection the server opened while that
// list was on its way is closed too, before the agent has seen it: a
// request on it fails although nothing is wrong (found by the conformance
// run with pods; a burst of new watches hits it often). Reading twice is
// harmless, so a GET or HEAD without a body is sent once more; anything
// else may have reached the apiserver and is not.

// syncClosed is the text of remotedialer's error for such a connection
// (its value is not exported).
const syncClosed = "sync from client"

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
