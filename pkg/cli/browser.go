package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// BrowserLogin is how a person finishes a login at an OIDC or GitHub
// provider (a redirect provider) through a browser.
type BrowserLogin struct {
	// Open shows the person the URL to open (and may open a browser).
	Open func(url string) error
	// Paste, when set, is a machine without a browser: the person opens
	// the URL anywhere, and Paste returns the code the page shows. When
	// nil, the browser brings the code back to a listener on 127.0.0.1.
	Paste func() (string, error)
	// Timeout bounds the wait for the person (default 5 minutes).
	Timeout time.Duration
}

// loginBrowser logs in to the server key at redirect provider o.Provider
// and records the session in c. The server hands the finished login to
// this command as a one-time code that is worth a session only with a PKCE
// verifier that never leaves this process; the browser never holds a
// session.
func loginBrowser(ctx context.Context, c *Config, key string, caPEM []byte, o LoginOptions, b BrowserLogin) (*Server, error) {
	if b.Timeout <= 0 {
		b.Timeout = 5 * time.Minute
	}
	verifier, challenge, err := pkce()
	if err != nil {
		return nil, err
	}
	client, err := NewClient(key, caPEM, "")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	redirect, codes := PasteRedirect, (<-chan string)(nil)
	if b.Paste == nil {
		var stop func()
		if redirect, codes, stop, err = listenForCode(); err != nil {
			return nil, err
		}
		defer stop()
	}
	var begun struct {
		BrowserURL string `json:"browserUrl"`
	}
	err = client.Do(ctx, http.MethodPost, "/v3/login/"+url.PathEscape(o.Provider)+"/begin",
		map[string]string{"cliRedirect": redirect, "codeChallenge": challenge}, &begun)
	if err != nil {
		return nil, fmt.Errorf("log in to %s with %s: %w", key, o.Provider, err)
	}
	if !ownLoginPage(key, begun.BrowserURL) {
		return nil, fmt.Errorf("log in to %s: the server answered no login page of its own", key)
	}
	if err := b.Open(begun.BrowserURL); err != nil {
		return nil, err
	}
	var code string
	if b.Paste != nil {
		if code, err = b.Paste(); err != nil {
			return nil, err
		}
		code = strings.TrimSpace(code)
	} else {
		select {
		case code = <-codes:
		case <-ctx.Done():
			return nil, fmt.Errorf("log in to %s: no login came back from the browser within %v", key, b.Timeout)
		}
	}
	var resp sessionResponse
	if err := client.Do(ctx, http.MethodPost, "/v3/login/exchange",
		map[string]string{"code": code, "verifier": verifier}, &resp); err != nil {
		return nil, fmt.Errorf("log in to %s: %w", key, err)
	}
	session, err := NewClient(key, caPEM, resp.Token)
	if err != nil {
		return nil, err
	}
	var me struct {
		Username string `json:"username"`
	}
	if err := session.Do(ctx, http.MethodGet, "/v3/users/me", nil, &me); err != nil {
		return nil, fmt.Errorf("log in to %s: %w", key, err)
	}
	return c.adopt(ctx, key, caPEM, o.Provider, me.Username, resp)
}

// maxBrowserURL bounds the login page's URL (the server's claim is at
// most 4 KiB).
const maxBrowserURL = 8 << 10

// ownLoginPage says whether u, a server's answer, is a login page of the
// server key: only such a page is shown, so a server's answer does not
// send the person elsewhere first. It is printed on the terminal and given
// to a browser as it is, so it must be a URL as the server makes one:
// printable ASCII, no space (no terminal control sequence, no second
// URL, nothing a reader or a browser could take otherwise).
func ownLoginPage(key, u string) bool {
	if len(u) > maxBrowserURL || !strings.HasPrefix(u, key+"/v3/login/") {
		return false
	}
	return strings.IndexFunc(u, func(r rune) bool { return r <= ' ' || r > '~' }) < 0
}

// PasteRedirect asks the server to show the login code for the person to
// paste (registry.PasteCode on the server).
const PasteRedirect = "paste"

// pkce returns a verifier of 256 random bits and its S256 challenge.
func pkce() (verifier, challenge string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// listenForCode listens on 127.0.0.1 (an unpredictable path, a port the
// system picks) for the browser to bring the login code back; it returns
// the redirect URL, the code when it comes, and the stop function.
func listenForCode() (string, <-chan string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, fmt.Errorf("listen for the browser on 127.0.0.1: %w", err)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		ln.Close()
		return "", nil, nil, err
	}
	path := "/drover-login/" + base64.RawURLEncoding.EncodeToString(b)
	codes := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		code := r.URL.Query().Get("code")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if code == "" || len(code) > 8192 {
			http.Error(w, "no login code", http.StatusBadRequest)
			return
		}
		select {
		case codes <- code:
			fmt.Fprint(w, `<!doctype html><meta charset="utf-8"><title>Drover login</title>`+
				`<p>Logged in. You can close this window and go back to the terminal.</p>`)
		default:
			http.Error(w, "this login is finished already", http.StatusConflict)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			srv.Close()
		}
	}
	return "http://" + ln.Addr().String() + path, codes, stop, nil
}
