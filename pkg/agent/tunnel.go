package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/gorilla/websocket"
	"github.com/rancher/remotedialer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RefusedError is the server's answer to a tunnel it refused to open: the
// HTTP status of the websocket upgrade and the message of its Status.
type RefusedError struct {
	Code    int
	Message string
}

func (e *RefusedError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return fmt.Sprintf("the server refused the tunnel: HTTP %d: %s", e.Code, msg)
}

// Permanent is true when the same token and parameters can never be let
// in: a client error other than a timeout, a conflict or a rate limit. The
// agent then waits long (Options.RefusedBackoff) or until its token file
// changes, instead of knocking every few seconds.
func (e *RefusedError) Permanent() bool {
	switch e.Code {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return false
	}
	return e.Code >= 400 && e.Code < 500
}

// Hint says what an operator can do about a permanent refusal.
func (e *RefusedError) Hint() string {
	switch e.Code {
	case http.StatusUnauthorized:
		return "the registration token is not valid (revoked, rotated out past its grace, expired, or its cluster deleted): " +
			"apply the cluster's import manifest again, or put a current token in the token file"
	case http.StatusForbidden:
		return "this token or agent may not open this tunnel (the message says why)"
	case http.StatusBadRequest:
		return "the server does not accept this agent's parameters (an agent older than the server?): run the agent image the server's import manifest names"
	}
	return "check --server (the URL of the Drover server) and the server's log"
}

// maxRefusalMessage bounds the server's message in a log line.
const maxRefusalMessage = 512

// refusal reads a failed upgrade's answer: a metav1.Status (Drover's
// apierr) names why; anything else is kept as short printable text.
func refusal(resp *http.Response) *RefusedError {
	e := &RefusedError{Code: resp.StatusCode}
	if resp.Body == nil {
		return e
	}
	// gorilla/websocket keeps at most the first 1 KiB of a refused
	// upgrade's body; there is no need to close it.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" {
		e.Message = printable(st.Message)
	} else {
		e.Message = printable(string(body))
	}
	return e
}

// printable keeps s to one bounded line of printable characters.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.TrimSpace(s))
	if len(s) > maxRefusalMessage {
		s = s[:maxRefusalMessage] + "…"
	}
	return s
}

// openTunnel dials the server's connect endpoint and serves the session
// until ctx ends (nil) or the session does (its error). A refused upgrade
// is a *RefusedError. remotedialer's own ConnectToProxy would return
// websocket's bare "bad handshake" and log the status through logrus; and
// here the session is closed only after Serve returned, so closing it
// never races with the ping canceller Serve sets.
func openTunnel(ctx context.Context, url string, headers http.Header, dialer *websocket.Dialer,
	local remotedialer.Dialer, onConnect func()) error {
	ws, resp, err := dialer.DialContext(ctx, url, headers)
	if err != nil {
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			return refusal(resp)
		}
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	sessCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess := remotedialer.NewClientSessionWithDialer(allowTCP, ws, local)
	served := make(chan error, 1)
	go func() {
		_, err := sess.Serve(sessCtx)
		served <- err
	}()
	onConnect()
	select {
	case <-ctx.Done():
		err = nil
		cancel() // stops the session's pings first
		ws.Close()
		<-served
	case err = <-served:
		cancel()
		ws.Close()
	}
	sess.Close()
	return err
}
