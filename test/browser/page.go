package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Page is one tab in a browser context of its own (no cookies or storage
// shared with other pages), recording its requests, problems and
// downloads. One goroutine at a time.
type Page struct {
	b         *Browser
	ctx       context.Context // the tab's chromedp context
	cancel    context.CancelFunc
	downloads string

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever a download ends
	requests  map[string]int
	log       []Request
	problems  []string
	netErrors []string
	dlNames   map[string]string   // download guid -> the name the page gave it
	dlDone    map[string]download // the name the page gave -> the result
}

type download struct {
	path string
	err  error
}

// NewPage opens a tab in a new browser context.
func (b *Browser) NewPage(ctx context.Context) (*Page, error) {
	dir, err := os.MkdirTemp(b.opts.Dir, "downloads-")
	if err != nil {
		return nil, err
	}
	p := &Page{
		b: b, downloads: dir, changed: make(chan struct{}),
		requests: map[string]int{}, dlNames: map[string]string{}, dlDone: map[string]download{},
	}
	// The listener is in place before the tab sends its first command, so
	// no request or message of the page is missed.
	p.ctx, p.cancel = chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(p.onEvent))
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	// As in Start: the tab lives as long as the context of its first Run.
	stop := context.AfterFunc(ctx, p.cancel)
	err = chromedp.Do(p.ctx)
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		p.cancel()
		return nil, fmt.Errorf("browser: open a page: %w", err)
	}
	if err := chromedp.ListenBrowser(p.ctx, p.onBrowserEvent); err != nil {
		p.cancel()
		return nil, fmt.Errorf("browser: listen for downloads: %w", err)
	}
	bctx, bcancel := p.bound(ctx)
	defer bcancel()
	_, err = chromedp.CallBrowser(bctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior:         cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName,
		BrowserContextID: p.browserContextID(),
		DownloadPath:     dir,
		EventsEnabled:    ptr(true),
	})
	if err != nil {
		p.cancel()
		return nil, fmt.Errorf("browser: set the download directory: %w", err)
	}
	return p, nil
}

// PageT is NewPage for a test: it fails t if the page cannot be opened,
// and when t ends it fails t for every problem the page had (console
// errors, uncaught exceptions, CSP violations) and closes the page.
func (b *Browser) PageT(t testing.TB) *Page {
	t.Helper()
	p, err := b.NewPage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, pr := range p.Problems() {
			t.Errorf("page problem: %s", pr)
		}
		p.Close()
	})
	return p
}

// Close closes the tab and its browser context.
func (p *Page) Close() { p.cancel() }

func ptr[T any](v T) *T { return &v }

// bound is Browser.bound for this page's tab.
func (p *Page) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return boundFrom(p.ctx, ctx, p.b.timeout)
}

// Do runs chromedp actions in the tab, bounded by ctx and the timeout.
func (p *Page) Do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// Fill replaces what the input sel holds with value, typed as a person
// types over a selection: it focuses the input and selects its text (a
// controlled input's prefilled value included, which chromedp.Clear would
// leave in the page's state), then types. When the document is replaced
// between finding the input and typing (a page still loading), it waits a
// moment and does it again: selecting first makes that safe.
func (p *Page) Fill(ctx context.Context, sel, value string) error {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	q, err := json.Marshal(sel)
	if err != nil {
		return err
	}
	selectAll := `(() => { const e = document.querySelector(` + string(q) + `); if (!e) return false; e.focus(); e.select(); return true; })()`
	for {
		err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)))
		if err == nil {
			var ok bool
			if ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](selectAll)); err == nil && !ok {
				return fmt.Errorf("browser: no element %s to fill", sel)
			}
		}
		if err == nil {
			err = chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), value))
		}
		if err == nil || !navigatedAway(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Run runs one chromedp action in the page's tab and returns its value,
// bounded by ctx and the timeout.
func Run[T any](ctx context.Context, p *Page, a chromedp.Action[T]) (T, error) {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// Eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its value.
func Eval[T any](ctx context.Context, p *Page, expr string) (T, error) {
	return Run(ctx, p, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// Navigate loads url and waits for the load event. A certificate the
// browser does not trust is an error (net::ERR_CERT_...).
func (p *Page) Navigate(ctx context.Context, url string) error {
	if err := p.Do(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("browser: navigate to %s: %w", url, err)
	}
	return nil
}

// WaitJS waits until the JavaScript expression is truthy in the page,
// checking every 50ms. It waits across navigations (a form submitted, a
// reload): the expression is asked again in the new document.
func (p *Page) WaitJS(ctx context.Context, expr string) error {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	d, _ := ctx.Deadline()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Until(d))))
		if err == nil {
			return nil
		}
		if !navigatedAway(err) || ctx.Err() != nil {
			return fmt.Errorf("browser: wait for %s: %w", expr, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("browser: wait for %s: %w", expr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// navigatedAway tells the errors of a script whose document went away
// (its execution context destroyed by a navigation) from real ones.
func navigatedAway(err error) bool {
	msg := err.Error()
	for _, s := range []string{"Cannot find context with specified id", "Execution context was destroyed", "Inspected target navigated or closed",
		// chromedp resolved the selector to a node of a document that
		// was replaced before it acted on it (a page still loading).
		"Could not find node with given id"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// onEvent sees every event of the tab, on chromedp's reading goroutine:
// it must be quick and must not call into chromedp.
func (p *Page) onEvent(ev any) {
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		u, err := url.Parse(e.Request.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return
		}
		p.mu.Lock()
		p.requests[u.Path]++
		if len(p.log) < maxLogged {
			p.log = append(p.log, Request{Method: e.Request.Method, Path: u.Path, Type: string(e.Type), Loader: string(e.LoaderID), At: time.Now()})
		}
		p.mu.Unlock()
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		p.addProblem("console." + string(e.Type) + ": " + consoleArgs(e.Args))
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		p.addProblem(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, text))
	case *log.EventEntryAdded:
		en := e.Entry
		if en == nil || en.Level != log.EntryLevelError {
			return
		}
		msg := fmt.Sprintf("%s error: %s", en.Source, en.Text)
		if en.URL != "" {
			msg += " (" + en.URL + ")"
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if en.Source == log.EntrySourceNetwork {
			p.netErrors = append(p.netErrors, msg)
			return
		}
		p.problems = append(p.problems, msg)
	}
}

func (p *Page) addProblem(s string) {
	p.mu.Lock()
	p.problems = append(p.problems, s)
	p.mu.Unlock()
}

func consoleArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		var str string
		switch {
		case a.Type == runtime.RemoteObjectTypeString && json.Unmarshal(a.Value, &str) == nil:
			parts = append(parts, str)
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Value))
		}
	}
	return strings.Join(parts, " ")
}

// Requests counts the page's requests by URL path since it opened (or
// since ResetRequests), the document's and every fetch, EventSource and
// asset's alike; a redirect counts again.
func (p *Page) Requests() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.requests)
}

// Request is one request a page made.
type Request struct {
	Method string
	Path   string // the URL's path, without the query
	// Type is the resource type as Chromium names it: Document, Script,
	// Fetch, EventSource...
	Type string
	// Loader names the document the request belongs to (a document's own
	// request carries the loader it starts): a request the previous
	// document sent as the page navigated away is told apart by it.
	Loader string
	At     time.Time
}

func (r Request) String() string { return r.Method + " " + r.Path }

// maxLogged bounds RequestLog: a page that polls runs for minutes.
const maxLogged = 10000

// RequestLog lists the page's requests in the order the browser sent them
// since it opened (or since ResetRequests), at most maxLogged of them: the
// method tells the POST that creates something from a GET that polls.
func (p *Page) RequestLog() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// DocumentRequests are the requests of the page's current document, the
// last one loaded (RequestLog, from its own request on).
func (p *Page) DocumentRequests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.log) - 1; i >= 0; i-- {
		if p.log[i].Type == string(network.ResourceTypeDocument) {
			loader := p.log[i].Loader
			var out []Request
			for _, r := range p.log[i:] {
				if r.Loader == loader {
					out = append(out, r)
				}
			}
			return out
		}
	}
	return nil
}

// RequestCount is Requests()[path].
func (p *Page) RequestCount(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[path]
}

// ResetRequests forgets the requests counted so far.
func (p *Page) ResetRequests() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.requests)
	p.log = nil
}

// Problems are the page's console errors, uncaught exceptions and the
// browser's error-level log entries (CSP violations among them) that are
// not about a failed response.
func (p *Page) Problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.problems...)
}

// NetworkErrors are the browser's log entries about failed responses
// ("Failed to load resource: ... 401"): a page that asks who is logged in
// before anyone is gets one, so they are not problems by themselves.
func (p *Page) NetworkErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.netErrors...)
}

// Screenshot saves a PNG of the viewport as dir/name.png and returns its
// path.
func (p *Page) Screenshot(ctx context.Context, dir, name string) (string, error) {
	return p.screenshot(ctx, chromedp.CaptureScreenshot(), dir, name)
}

// FullScreenshot saves a PNG of the whole page, beyond the viewport, as
// dir/name.png and returns its path.
func (p *Page) FullScreenshot(ctx context.Context, dir, name string) (string, error) {
	return p.screenshot(ctx, chromedp.FullScreenshot(100), dir, name)
}

func (p *Page) screenshot(ctx context.Context, capture chromedp.Action[[]byte], dir, name string) (string, error) {
	png, err := Run(ctx, p, capture)
	if err != nil {
		return "", fmt.Errorf("browser: screenshot: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name+".png")
	return path, os.WriteFile(path, png, 0o644)
}

// browserContextID is the page's browser context.
func (p *Page) browserContextID() cdp.BrowserContextID {
	return chromedp.FromContext(p.ctx).BrowserContextID
}

// Cookies are the cookies the page's browser context would send to url,
// HttpOnly ones included, with their attributes.
func (p *Page) Cookies(ctx context.Context, url string) ([]*network.Cookie, error) {
	return Run(ctx, p, func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		if err != nil {
			return nil, fmt.Errorf("browser: cookies for %s: %w", url, err)
		}
		return r.Cookies, nil
	})
}
