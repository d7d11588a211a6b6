package authproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/drover-dev/drover/pkg/tunnel"
)

// Followed logs that outlive their tunnel.
//
// A `logs -f` (GET pods/<name>/log?follow=true) is asked downstream with
// timestamps=true, whatever the client asked, so that the proxy knows the
// kubelet's timestamp of every line it hands on (it strips them again when
// the client did not ask for them). When the stream breaks (the tunnel
// went, not the container's end), the proxy asks again through the
// cluster's current session with sinceTime (whole seconds, as the kubelet
// reads it) and drops the lines up to the last one delivered: the client
// sees neither a gap nor a line twice, except lines with exactly the same
// nanosecond timestamp as the last one delivered, which are dropped. A
// request with limitBytes is not resumed. Lines are held whole up to 64 KiB;
// a longer line is handed on in pieces, and a break in its middle resumes
// after it. What cannot be resumed within the window ends with the
// stream's error, as before.

// maxLogLine is the longest log line held whole (the buffer of every
// followed log, as large as ReverseProxy's copy buffer).
const maxLogLine = 64 << 10

// logsBody is a followed log's body as the proxy hands it to the client.
type logsBody struct {
	p     *Proxy
	ctx   context.Context
	req   *http.Request // as first sent downstream (timestamps=true)
	t     *target
	body  io.ReadCloser
	br    *bufio.Reader
	strip bool // the client did not ask for timestamps
	// last is the timestamp of the last line handed on; zero before one.
	last    time.Time
	midLine bool // handing on a line longer than maxLogLine
	skip    time.Time
	pending []byte
	err     error
}

// askTimestamps makes a followed log request ask for timestamps and says
// whether the client had not.
func askTimestamps(req *http.Request) (strip bool) {
	q := req.URL.Query()
	if q.Get("timestamps") == "true" {
		return false
	}
	q.Set("timestamps", "true")
	req.URL.RawQuery = q.Encode()
	return true
}

func (p *Proxy) wrapLogs(req *http.Request, resp *http.Response, t *target, strip bool) *http.Response {
	if resp.StatusCode != http.StatusOK {
		return resp
	}
	resp.Body = &logsBody{p: p, ctx: req.Context(), req: req, t: t, body: resp.Body,
		br: bufio.NewReaderSize(resp.Body, maxLogLine), strip: strip}
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	return resp
}

func (l *logsBody) Read(b []byte) (int, error) {
	for len(l.pending) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		l.fill()
	}
	n := copy(b, l.pending)
	l.pending = l.pending[n:]
	return n, nil
}

func (l *logsBody) Close() error {
	if l.body != nil {
		return l.body.Close()
	}
	return nil
}

// fill reads the next line (or piece of a long one) into pending, resuming
// the stream if it broke; it sets err when the stream ends.
func (l *logsBody) fill() {
	line, err := l.br.ReadSlice('\n')
	if len(line) > 0 && (err == nil || errors.Is(err, bufio.ErrBufferFull)) {
		l.hand(line, err == nil)
		return
	}
	if err == io.EOF {
		// The container's log ended (its last line may lack a newline).
		if len(line) > 0 {
			l.hand(line, true)
		}
		l.err = io.EOF
		return
	}
	// Broken (a partial last line is never handed on: it comes again).
	l.body.Close()
	l.body = nil
	if l.ctx.Err() != nil || l.req.URL.Query().Get("limitBytes") != "" {
		l.err = err
		return
	}
	l.err = l.resume(err)
}

// hand passes on a line (whole: complete) or a piece of a long one.
func (l *logsBody) hand(line []byte, complete bool) {
	// pending may point into the reader's buffer: Read calls fill again
	// only once pending is drained.
	if l.midLine {
		l.midLine = !complete
		l.pending = line
		return
	}
	stamp, rest, ok := bytes.Cut(line, []byte(" "))
	ts, err := time.Parse(time.RFC3339Nano, string(stamp))
	if !ok || err != nil {
		// Not a timestamped line: hand it on as it is.
		l.pending = line
		l.midLine = !complete
		return
	}
	if !l.skip.IsZero() && !ts.After(l.skip) {
		if !complete {
			l.midLine = true // drop the rest of it too
			l.pending = nil
		}
		return
	}
	l.last, l.midLine = ts, !complete
	if l.strip {
		l.pending = rest
	} else {
		l.pending = line
	}
}

// resume asks for the log again through the cluster's current session.
func (l *logsBody) resume(cause error) error {
	cluster := l.t.session.ClusterID
	began := time.Now()
	err := l.p.reconnect(l.ctx, cluster, func(sess *tunnel.Session) (bool, error) {
		resp, err := l.reopen(sess)
		switch {
		case err != nil:
			return false, nil
		case resp.StatusCode == http.StatusOK:
			l.body, l.br = resp.Body, bufio.NewReaderSize(resp.Body, maxLogLine)
			l.skip, l.midLine = l.last, false
			l.p.opts.Logger.Info("log stream resumed", "cluster", cluster, "via", sess.Params.Kind, "node", sess.Params.Node,
				"after", time.Since(began), "broken", cause)
			return true, nil
		}
		resp.Body.Close()
		if resp.StatusCode < 500 {
			return true, fmt.Errorf("resume log stream: HTTP %d", resp.StatusCode)
		}
		return false, nil
	})
	switch {
	case errors.Is(err, errWindowPassed):
		l.p.opts.Logger.Warn("log stream ended: no session could carry it again", "cluster", cluster)
		return cause
	case err != nil && l.ctx.Err() != nil:
		return cause
	}
	return err
}

func (l *logsBody) reopen(sess *tunnel.Session) (*http.Response, error) {
	return l.p.resend(l.ctx, l.req, l.t, sess, func(q url.Values) {
		if !l.last.IsZero() {
			q.Del("tailLines")
			q.Del("sinceSeconds")
			q.Set("sinceTime", l.last.UTC().Truncate(time.Second).Format(time.RFC3339))
		}
	})
}
