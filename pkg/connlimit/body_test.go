package connlimit

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// bodyServer answers how much of the body it read and the read error, then
// streams `stream` more lines a timeout apart (a watch after its body),
// unless the request's context ends.
func bodyServer(t *testing.T, h2 bool, opts BodyOptions, stream int) *httptest.Server {
	t.Helper()
	h := WithBodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "read %d err %v\n", n, err != nil)
		for range stream {
			w.(http.Flusher).Flush()
			time.Sleep(opts.Timeout)
			if r.Context().Err() != nil {
				fmt.Fprintln(w, "canceled") // as a proxied watch would be
				return
			}
			fmt.Fprintln(w, "still here")
		}
	}), opts)
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// slowBody sends n bytes one per gap, then ends; it stops early when the
// test does.
type slowBody struct {
	n    int
	gap  time.Duration
	stop <-chan struct{}
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	select {
	case <-time.After(s.gap):
	case <-s.stop:
		return 0, io.ErrClosedPipe
	}
	s.n--
	p[0] = 'x'
	return 1, nil
}

func TestBodyDeadline(t *testing.T) {
	// Timeout is generous for a loaded machine; the slow body would take
	// 5 s, and must be cut well before.
	opts := BodyOptions{Timeout: time.Second, MinRate: 1000}
	for _, proto := range []struct {
		name string
		h2   bool
	}{{"HTTP/1.1", false}, {"HTTP/2", true}} {
		t.Run(proto.name, func(t *testing.T) {
			tests := []struct {
				name     string
				body     func(stop <-chan struct{}) io.Reader
				length   int64
				stream   int
				wantBody string // prefix
				wantFast bool   // answered well before the slow body would end
			}{
				{"a fast body is read whole", func(<-chan struct{}) io.Reader { return bytes.NewReader(make([]byte, 1<<20)) }, 1 << 20, 0,
					"read 1048576 err false", false},
				{"a slow body is cut at its deadline", func(stop <-chan struct{}) io.Reader { return &slowBody{n: 50, gap: 100 * time.Millisecond, stop: stop} }, 50, 0,
					"read ", true},
				{"a body read whole leaves the response streaming past the deadline", func(<-chan struct{}) io.Reader { return strings.NewReader("hello") }, 5, 3,
					"read 5 err false\nstill here\nstill here\nstill here", false},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					srv := bodyServer(t, proto.h2, opts, tc.stream)
					stop := make(chan struct{})
					defer close(stop)
					req, err := http.NewRequest(http.MethodPost, srv.URL, tc.body(stop))
					if err != nil {
						t.Fatal(err)
					}
					req.ContentLength = tc.length
					start := time.Now()
					resp, err := srv.Client().Do(req)
					elapsed := time.Since(start)
					if err != nil {
						if tc.wantFast && elapsed < 4*time.Second {
							return // the server gave up on the connection: cut too
						}
						t.Fatal(err)
					}
					defer resp.Body.Close()
					if proto.h2 != (resp.ProtoMajor == 2) {
						t.Fatalf("answered over %s", resp.Proto)
					}
					got, _ := io.ReadAll(resp.Body)
					elapsed = time.Since(start)
					if !strings.HasPrefix(string(got), tc.wantBody) {
						t.Errorf("answer %q, want prefix %q", got, tc.wantBody)
					}
					if tc.wantFast {
						if !strings.Contains(string(got), "err true") {
							t.Errorf("the slow body was read without an error: %q", got)
						}
						if elapsed > 4*time.Second {
							t.Errorf("answered after %s; the slow body takes 5s", elapsed)
						}
					}
				})
			}
		})
	}
}

// TestBodyDeadlineExtends: a body slower than Timeout but faster than
// MinRate is read whole.
func TestBodyDeadlineExtends(t *testing.T) {
	srv := bodyServer(t, false, BodyOptions{Timeout: time.Second, MinRate: 64 << 10}, 0)
	// 1 MiB at about 640 KiB/s at most (1.6 s, longer than Timeout), well
	// above MinRate.
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for range 64 {
			chunks <- make([]byte, 16<<10)
			time.Sleep(25 * time.Millisecond)
		}
	}()
	pr, pw := io.Pipe()
	go func() {
		for c := range chunks {
			pw.Write(c)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
	req.ContentLength = 1 << 20
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if want := "read 1048576 err false\n"; string(got) != want {
		t.Errorf("answer %q, want %q", got, want)
	}
}
