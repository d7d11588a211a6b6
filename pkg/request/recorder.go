package request

import "net/http"

// Recorder remembers what a handler answered: the status code and the body
// bytes written. It unwraps for http.ResponseController, so flushing and
// hijacking (watches, upgrades) work through it. The audit log, the
// metrics and the proxy's own figures read it.
type Recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

// NewRecorder wraps w.
func NewRecorder(w http.ResponseWriter) *Recorder { return &Recorder{ResponseWriter: w} }

func (r *Recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Bytes is how many body bytes were written.
func (r *Recorder) Bytes() int64 { return r.bytes }

// Code is the status written, 0 if none was (yet).
func (r *Recorder) Code() int { return r.code }

// Status is the status the client got for req once the handler returned:
// the code written; for an upgrade that was hijacked without a write
// through the recorder, 101; for a handler that wrote nothing, 200 (what
// net/http sends).
func (r *Recorder) Status(req *http.Request) int {
	switch {
	case r.code != 0:
		return r.code
	case req.Header.Get("Upgrade") != "":
		return http.StatusSwitchingProtocols
	default:
		return http.StatusOK
	}
}
