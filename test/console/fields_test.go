package console

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/drover-dev/drover/test/browser"
)

// What the tests of the console's forms share: typing over what a field
// holds, the error shown next to a field, and what a page sent.

// retype replaces what the input or textarea sel holds with value, as a
// person does: select all of it, delete it, type. (chromedp's Clear sets
// the value attribute, which neither empties a field that was typed into
// nor tells the page.) A page that has just been shown may still move the
// focus (to its heading) while the keys go out: then it types again, a few
// times at most. value must not hold a newline: in an input, Enter submits
// the form.
func retype(ctx context.Context, t *testing.T, p *browser.Page, sel, value string) {
	t.Helper()
	var got string
	for range 5 {
		if !eval[bool](ctx, t, p, `(() => { const e = `+query(sel)+`; if (!e) return false; e.focus(); e.select(); return true; })()`) {
			t.Fatalf("%s: no such field to type into (%s)", sel, pageSays(p))
		}
		// SendKeys focuses the field again itself before the keys.
		if err := p.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), kb.Delete+value)); err != nil {
			t.Fatalf("type into %s: %v", sel, err)
		}
		if got = eval[string](ctx, t, p, query(sel)+`.value`); got == value {
			return
		}
	}
	t.Fatalf("%s holds %q after typing %q", sel, got, value)
}

// fieldError waits until the field with id shows an error holding want
// next to it, the way the console's contract puts it: #<id>-error, an
// alert in the field's own .field block, which the field names in
// aria-describedby and marks aria-invalid.
func fieldError(ctx context.Context, t *testing.T, p *browser.Page, id, want string) {
	t.Helper()
	waitJS(ctx, t, p, "an error holding "+jsString(want)+" next to #"+id, `(() => {
		const f = document.getElementById(`+jsString(id)+`), e = document.getElementById(`+jsString(id+"-error")+`);
		return !!f && !!e && e.textContent.includes(`+jsString(want)+`) && e.getAttribute('role') === 'alert' &&
			!!f.closest('.field') && f.closest('.field') === e.closest('.field') &&
			f.getAttribute('aria-invalid') === 'true' && (f.getAttribute('aria-describedby') ?? '').split(' ').includes(e.id);
	})()`)
}

// writes are the requests p sent since ResetRequests that would change
// something: every method but GET (the live stream reconnecting is a GET).
func writes(p *browser.Page) []browser.Request {
	var out []browser.Request
	for _, r := range p.RequestLog() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
			out = append(out, r)
		}
	}
	return out
}

// sent counts the requests of p since ResetRequests with method to path.
func sent(p *browser.Page, method, path string) int {
	n := 0
	for _, r := range p.RequestLog() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// formCase is one submission of a form that must be refused: the values
// typed (input selector → value), the field the message goes next to and
// what it says, and whether the server is asked (the API's own rules the
// page does not mirror) or not (the page's checks).
type formCase struct {
	name   string
	values [][2]string // in order: selector, value
	field  string
	want   string
	sends  bool
}

// refuse submits the form of submit once per case and checks that each is
// refused where it should be: the message next to its field, the focus on
// that field when the page refused it itself, and no request at all then,
// or exactly one (method to path) when the server refused it.
func refuse(ctx context.Context, t *testing.T, p *browser.Page, submit, method, path string, cases []formCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range c.values {
				retype(ctx, t, p, v[0], v[1])
			}
			p.ResetRequests()
			click(ctx, t, p, submit)
			fieldError(ctx, t, p, c.field, c.want)
			if !c.sends {
				if got := eval[string](ctx, t, p, `document.activeElement?.id ?? ''`); got != c.field {
					t.Errorf("the focus is on #%s, want it on the bad field #%s", got, c.field)
				}
				if w := writes(p); len(w) > 0 {
					t.Errorf("the page sent %v for a form it refused itself", w)
				}
				return
			}
			// The server's answer is in (the message shows it); the
			// button is enabled again once the request is done.
			waitJS(ctx, t, p, submit+" enabled again", `!`+query(submit)+`.disabled`)
			if n, w := sent(p, method, path), writes(p); n != 1 || len(w) != 1 {
				t.Errorf("the page sent %v, want one %s %s", w, method, path)
			}
		})
	}
}

// hasAll reports whether s holds every one of subs.
func hasAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
