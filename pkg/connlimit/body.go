package connlimit

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Defaults of BodyOptions.
const (
	DefaultBodyTimeout = 30 * time.Second
	DefaultBodyMinRate = 1024 // bytes per second
)

// BodyOptions bound the time a request body may take.
type BodyOptions struct {
	// Timeout is what every body gets, from the start of the request;
	// 0: DefaultBodyTimeout.
	Timeout time.Duration
	// MinRate is the slowest transfer allowed past Timeout, in bytes per
	// second: each byte read extends the deadline by 1/MinRate s; 0:
	// DefaultBodyMinRate.
	MinRate int64
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// extendStep is the least extension worth a SetReadDeadline call.
const extendStep = time.Second

// WithBodyDeadline gives every request body a read deadline (see the
// package documentation). It goes outermost, so that a body no handler
// reads (an early refusal) is bounded too while the server discards it.
// The deadline is lifted once the body is read to its end, so a response
// that streams afterwards (a watch, logs) is not touched; bodies of
// HTTP/2 CONNECT streams, which are tunnels, get none.
func WithBodyDeadline(next http.Handler, opts BodyOptions) http.Handler {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultBodyTimeout
	}
	if opts.MinRate <= 0 {
		opts.MinRate = DefaultBodyMinRate
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.Method == http.MethodConnect && r.ProtoMajor == 2 {
			next.ServeHTTP(w, r)
			return
		}
		b := &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), opts: opts, start: opts.Now()}
		if err := b.rc.SetReadDeadline(b.start.Add(opts.Timeout)); errors.Is(err, http.ErrNotSupported) {
			next.ServeHTTP(w, r) // a writer that cannot (tests' recorders)
			return
		}
		b.set = b.start.Add(opts.Timeout)
		r.Body = b
		next.ServeHTTP(w, r)
	})
}

// deadlineBody extends the connection's read deadline as bytes arrive and
// lifts it at the end of the body. Reads come from one goroutine at a time.
type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	opts  BodyOptions
	start time.Time
	read  int64
	set   time.Time // the deadline in force; zero once lifted
	done  bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.done {
		return n, err
	}
	b.read += int64(n)
	if err != nil {
		// The end, or a failure that ends the body: nothing more to wait
		// for on this request.
		b.done = true
		if errors.Is(err, io.EOF) {
			b.rc.SetReadDeadline(time.Time{})
		}
		return n, err
	}
	earned := time.Duration(float64(b.read) / float64(b.opts.MinRate) * float64(time.Second))
	if d := b.start.Add(b.opts.Timeout + earned); d.Sub(b.set) >= extendStep {
		b.rc.SetReadDeadline(d)
		b.set = d
	}
	return n, err
}
