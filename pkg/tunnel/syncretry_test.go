package tunnel

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

type failOnce struct {
	err   error
	calls int
}

func (f *failOnce) RoundTrip(*http.Request) (*http.Response, error) {
	f.calls++
	if f.calls == 1 {
		return nil, f.err
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

// TestSyncRetry: a read cut by remotedialer's connection sync is sent once
// more; a write, an upgrade, a request with a body, a request whose client
// left, or any other error is not.
func TestSyncRetry(t *testing.T) {
	cut := errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: sync from client")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name  string
		req   func() *http.Request
		err   error
		calls int
	}{
		{"GET cut by the sync", func() *http.Request { return newGet(http.MethodGet) }, cut, 2},
		{"HEAD cut by the sync", func() *http.Request { return newGet(http.MethodHead) }, cut, 2},
		{"GET, another error", func() *http.Request { return newGet(http.MethodGet) }, errors.New("tunnel disconnect"), 1},
		{"POST", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "https://x/api/v1/namespaces", strings.NewReader("{}"))
			return r
		}, cut, 1},
		{"DELETE", func() *http.Request { return newGet(http.MethodDelete) }, cut, 1},
		{"exec (an upgrade)", func() *http.Request {
			r := newGet(http.MethodGet)
			r.Header.Set("Upgrade", "websocket")
			return r
		}, cut, 1},
		{"GET with a body", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "https://x/", io.NopCloser(strings.NewReader("x")))
			return r
		}, cut, 1},
		{"client gone", func() *http.Request { return newGet(http.MethodGet).WithContext(canceled) }, cut, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &failOnce{err: c.err}
			resp, err := syncRetry{rt: f}.RoundTrip(c.req())
			if f.calls != c.calls {
				t.Errorf("sent %d times, want %d", f.calls, c.calls)
			}
			if c.calls == 2 && (err != nil || resp.StatusCode != http.StatusOK) {
				t.Errorf("retried: %v, %v", resp, err)
			}
			if c.calls == 1 && err == nil {
				t.Error("the error was swallowed")
			}
		})
	}
}

func newGet(method string) *http.Request {
	r, _ := http.NewRequest(method, "https://x/api/v1/namespaces", nil)
	return r
}
