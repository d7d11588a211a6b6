package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-dev/drover/pkg/agentapi"
)

// Client calls a Drover server's JSON API over TLS verified against the
// server's pinned CA, with a login session when it has one.
type Client struct {
	base    string
	session string
	http    *http.Client
}

// NewClient returns a client of the server at baseURL (normalised) whose CA
// bundle is caPEM; session may be empty (login).
func NewClient(baseURL string, caPEM []byte, session string) (*Client, error) {
	pool, err := agentapi.CertPool(caPEM)
	if err != nil {
		return nil, fmt.Errorf("the pinned CA of %s: %w", baseURL, err)
	}
	return &Client{base: baseURL, session: session, http: &http.Client{
		Timeout: 30 * time.Second,
		// The API never redirects; following one could carry a password
		// or a session to another address.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			Proxy:           http.ProxyFromEnvironment,
		},
	}}, nil
}

// APIError is a server's refusal: its HTTP status and the message of its
// Status.
type APIError struct {
	Code    int
	Message string
	// retryAfter is the server's Retry-After, if any.
	retryAfter time.Duration
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the server answered %d %s", e.Code, http.StatusText(e.Code))
	}
	return e.Message
}

// IsUnauthorized says whether err is the server refusing the credential.
func IsUnauthorized(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == http.StatusUnauthorized
}

// maxResponse bounds what is read of an answer.
const maxResponse = 16 << 20

// maxRetryWait bounds the wait Do honours on a 429 (a login limit
// refusing this address for a few seconds); a longer one is the error.
const maxRetryWait = 10 * time.Second

// Do sends in (JSON, if not nil) to path and decodes the answer into out
// (if not nil). A refusal for too many requests that names a short
// Retry-After (a login limit) is waited out and sent again, twice at most:
// the server refused it before doing anything.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		err := c.do(ctx, method, path, b, in != nil, out)
		var e *APIError
		if attempt == 2 || !errors.As(err, &e) || e.Code != http.StatusTooManyRequests || e.retryAfter <= 0 || e.retryAfter > maxRetryWait {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(e.retryAfter):
		}
	}
}

func (c *Client) do(ctx context.Context, method, path string, b []byte, hasBody bool, out any) error {
	var body io.Reader
	if hasBody {
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.session != "" {
		req.Header.Set("Authorization", "Bearer "+c.session)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	if resp.StatusCode/100 != 2 {
		var st metav1.Status
		e := &APIError{Code: resp.StatusCode}
		if json.Unmarshal(ans, &st) == nil {
			e.Message = Printable(st.Message)
		}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.retryAfter = time.Duration(secs) * time.Second
		}
		return e
	}
	if out == nil || len(ans) == 0 {
		return nil
	}
	if err := json.Unmarshal(ans, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what drover expects: %w", method, c.base+path, err)
	}
	return nil
}

// maxPrintable bounds a server's text in a message.
const maxPrintable = 1024

// Printable is text from a server made fit for a terminal: every control
// character (an escape sequence could retitle the window, clear the screen
// or rewrite the line) is shown as U+FFFD, and the text is cut at 1 KiB.
func Printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) || r == ' ' {
			return r
		}
		return utf8.RuneError
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(s) > maxPrintable {
		s = strings.ToValidUTF8(s[:maxPrintable], "") + "…"
	}
	return s
}
