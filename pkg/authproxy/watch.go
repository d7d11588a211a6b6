package authproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/tunnel"
)

// Watches that outlive their tunnel.
//
// A watch's response body is read event by event (framer) and handed to
// the client one whole event at a time (an event over holdEvent in pieces
// as it comes, so that a watch costs at most that much memory), so a stream
// that breaks between events leaves no half event with the client. When the downstream stream breaks
// (the agent's tunnel went, not the apiserver's clean end), the proxy
// opens the same watch again through whichever session now serves the
// cluster, from the resourceVersion of the last event it delivered, and
// goes on writing to the same response: the client sees neither an error
// nor a gap nor an event twice. That needs a point the apiserver can
// resume from: a watch started from a resourceVersion (kubectl get -w and
// informers start from their list's), or a streaming list after its
// initial events ended; a watch from "now" (no resourceVersion or "0")
// during its synthetic initial events cannot resume without repeating or
// losing objects, and ends instead. Whatever ends a watch ends it as the
// apiserver would, with an ERROR event carrying a Status the client reads
// (the apiserver's own 410 Gone passes through; no session within the
// resume window: 503; a revoked token: 401; access removed: 403), never a
// torn stream.

// defaultResumeWindow bounds how long a broken watch waits for a session
// that can carry it again.
const defaultResumeWindow = 30 * time.Second

// watchBody is a watch response's body as the proxy hands it to the client.
type watchBody struct {
	p      *Proxy
	ctx    context.Context
	req    *http.Request // the request as first sent downstream
	t      *target
	format watchFormat
	body   io.ReadCloser
	fr     framer

	lastRV    string
	resumable bool
	deadline  time.Time // the client's timeoutSeconds, zero if none
	pending   []byte
	done      bool
	// midEvent: part of a large event was handed on; its resourceVersion
	// (eventRV, empty if its first piece lacked it) counts once it ends.
	midEvent bool
	eventRV  string
}

// wrapWatch returns resp with a body that resumes the watch, or resp as it
// is when the stream's format is not one the proxy reads.
func (p *Proxy) wrapWatch(req *http.Request, resp *http.Response, t *target) *http.Response {
	f := formatOf(resp.Header.Get("Content-Type"))
	q := req.URL.Query()
	if resp.StatusCode != http.StatusOK || f == formatUnknown || q.Get("pretty") == "true" {
		return resp // pretty JSON has newlines inside events
	}
	rv := q.Get("resourceVersion")
	w := &watchBody{p: p, ctx: req.Context(), req: req, t: t, format: f, body: resp.Body, fr: newFramer(f, resp.Body),
		lastRV: rv, resumable: q.Get("sendInitialEvents") != "true" && rv != "" && rv != "0"}
	if s, err := strconv.ParseInt(q.Get("timeoutSeconds"), 10, 64); err == nil && s > 0 && s < math.MaxInt32 {
		w.deadline = time.Now().Add(time.Duration(s) * time.Second)
	}
	resp.Body = w
	return resp
}

func (w *watchBody) Read(b []byte) (int, error) {
	for len(w.pending) == 0 {
		if w.done {
			return 0, io.EOF
		}
		if err := w.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(b, w.pending)
	w.pending = w.pending[n:]
	return n, nil
}

func (w *watchBody) Close() error {
	if w.body != nil {
		return w.body.Close()
	}
	return nil
}

// fill reads the next event (or piece of a large one) into pending,
// resuming the watch if its stream broke; an error is returned only when
// the response cannot end with an ERROR event (the client is gone, or the
// stream broke inside a large event already handed on in part).
func (w *watchBody) fill() error {
	p, err := w.fr.next()
	if err == nil {
		w.pending = p.b
		if p.start {
			w.eventRV = p.info.rv
			if p.info.initialEnd {
				w.resumable = true
			}
		}
		if p.end {
			w.midEvent = false
			if w.eventRV != "" {
				w.lastRV = w.eventRV
			} else if p.info.typ != watchError {
				w.resumable = false // an event whose resourceVersion could not be read
			}
		} else {
			w.midEvent = true
		}
		return nil
	}
	w.body.Close()
	w.body = nil
	w.p.opts.Logger.Debug("watch stream broke", "cluster", w.t.session.ClusterID, "err", err, "resumable", w.resumable)
	if w.midEvent {
		return err // half an event is with the client: nothing can follow it
	}
	return w.stop(err)
}

// stop ends or resumes a watch whose stream ended with err.
func (w *watchBody) stop(err error) error {
	if st, ok := causeStatus(context.Cause(w.ctx)); ok {
		return w.end(st.Code, st.Reason, st.Message)
	}
	switch {
	case w.ctx.Err() != nil:
		return w.ctx.Err() // the client went away
	case errors.Is(err, io.EOF):
		w.done = true // the apiserver ended the watch: so does the client's
		return nil
	case !w.resumable:
		w.p.opts.Logger.Info("watch ended: its tunnel failed and it has no resourceVersion to resume from",
			"cluster", w.t.session.ClusterID, "err", err)
		return w.end(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
			"the watch's connection to the cluster failed before it could be resumed; list and watch again")
	}
	return w.resume(err)
}

// end queues an ERROR event with a Status and ends the response after it.
func (w *watchBody) end(code int32, reason metav1.StatusReason, msg string) error {
	w.done = true
	ev, err := errorEvent(w.format, &metav1.Status{Code: code, Reason: reason, Message: msg})
	if err != nil {
		return err
	}
	w.pending = ev
	return nil
}

// resume opens the watch again from lastRV through the cluster's current
// session, trying for the resume window.
func (w *watchBody) resume(cause error) error {
	cluster := w.t.session.ClusterID
	began := time.Now()
	var last error
	err := w.p.reconnect(w.ctx, cluster, func(sess *tunnel.Session) (bool, error) {
		if !w.deadline.IsZero() && !time.Now().Before(w.deadline) {
			w.done = true // the client's timeoutSeconds passed meanwhile
			return true, nil
		}
		resp, err := w.reopen(sess)
		switch {
		case err != nil:
			last = err
			return false, nil
		case resp.StatusCode == http.StatusOK:
			w.body, w.fr = resp.Body, newFramer(w.format, resp.Body)
			w.p.opts.Logger.Info("watch resumed", "cluster", cluster, "via", sess.Params.Kind, "node", sess.Params.Node,
				"after", time.Since(began), "broken", cause)
			return true, nil
		}
		// The apiserver's answer (410 Gone: compacted past lastRV) goes to
		// the client as the ERROR event it would send.
		status := statusOf(resp)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			last = fmt.Errorf("HTTP %d", resp.StatusCode)
			return false, nil
		}
		w.done = true
		ev, err := errorEvent(w.format, status)
		w.pending = ev
		return true, err
	})
	switch {
	case errors.Is(err, errWindowPassed):
		w.p.opts.Logger.Warn("watch ended: no session could carry it again", "cluster", cluster, "err", last)
		return w.end(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
			fmt.Sprintf("cluster %q is unreachable: no agent could carry the watch again within %v", cluster, w.p.resumeWindow()))
	case err != nil && w.ctx.Err() != nil:
		return w.stop(w.ctx.Err()) // revoked, access removed or the client gone
	}
	return err
}

// errWindowPassed: no session could carry a broken stream again in time.
var errWindowPassed = errors.New("no session could carry the stream again within the resume window")

func (p *Proxy) resumeWindow() time.Duration {
	if p.opts.WatchResumeWindow > 0 {
		return p.opts.WatchResumeWindow
	}
	return defaultResumeWindow
}

// reconnect is how a broken watch or followed log waits for a session of
// cluster to carry it again: it calls try with the cluster's current
// session, backing off from 100 ms to 2 s between tries, until try says
// done, ctx ends (ctx.Err()) or the resume window passes
// (errWindowPassed).
func (p *Proxy) reconnect(ctx context.Context, cluster string, try func(*tunnel.Session) (done bool, err error)) error {
	deadline := time.Now().Add(p.resumeWindow())
	delay := 100 * time.Millisecond
	for time.Now().Before(deadline) {
		if sess, ok := p.opts.Sessions.Session(cluster); ok {
			if done, err := try(sess); done || err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
	return errWindowPassed
}

// reopen sends the watch again through sess from lastRV, through the same
// round tripper checks as the first request.
func (w *watchBody) reopen(sess *tunnel.Session) (*http.Response, error) {
	return w.p.resend(w.ctx, w.req, w.t, sess, func(q url.Values) {
		q.Set("resourceVersion", w.lastRV)
		q.Del("resourceVersionMatch")
		q.Del("sendInitialEvents")
		if !w.deadline.IsZero() {
			q.Set("timeoutSeconds", strconv.FormatInt(int64(math.Ceil(time.Until(w.deadline).Seconds())), 10))
		}
	})
}

// resend sends a request again as first sent downstream (req), through
// sess, with its query changed by query, the identity's current downstream
// credential, and the round tripper's checks (never wrapped again).
func (p *Proxy) resend(ctx context.Context, req *http.Request, t *target, sess *tunnel.Session, query func(url.Values)) (*http.Response, error) {
	nt, err := p.retarget(ctx, t, sess)
	if err != nil {
		return nil, err
	}
	out := req.Clone(context.WithValue(ctx, targetKey{}, nt))
	out.Header.Set("Authorization", "Bearer "+nt.credential)
	u := *req.URL
	u.Host = sess.Params.Endpoint
	q := u.Query()
	query(q)
	u.RawQuery = q.Encode()
	out.URL = &u
	return roundTripper{}.RoundTrip(out)
}

// retarget is t through sess, with the identity's downstream credential as
// it is now (the one the request started with may have expired since).
func (p *Proxy) retarget(ctx context.Context, t *target, sess *tunnel.Session) (*target, error) {
	n := *t
	n.session = sess
	if p.opts.Credentials != nil {
		cred, err := p.opts.Credentials.Credential(ctx, t.account)
		if err != nil {
			return nil, fmt.Errorf("downstream credential: %w", err)
		}
		n.credential = cred
	}
	return &n, nil
}

// statusOf reads the Status of an apiserver's error answer, or makes one.
func statusOf(resp *http.Response) *metav1.Status {
	var s metav1.Status
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(b, &s); err != nil || s.Code == 0 {
		// Not JSON (a protobuf client's error is protobuf): the code and
		// a reason the client's error checks know.
		s = metav1.Status{Code: int32(resp.StatusCode), Reason: metav1.StatusReasonUnknown,
			Message: fmt.Sprintf("the cluster answered %d when the watch was resumed", resp.StatusCode)}
		if resp.StatusCode == http.StatusGone {
			s.Reason, s.Message = metav1.StatusReasonExpired, "too old resource version: the cluster no longer has the watch's resourceVersion"
		}
	}
	return &s
}
