package browser

import (
	"context"
	"fmt"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Element names an element of a page for keyboard tests.
type Element struct {
	// Key identifies the element: tag#id when it has an id, else a path
	// of tag:nth-of-type(i) steps from its nearest ancestor with an id
	// (or from <html>). The radio buttons of one group share a key,
	// input[type=radio][name=...]: Tab reaches a group once.
	Key string `json:"key"`
	// Label is what a person reads on or for it (for messages).
	Label string `json:"label"`
}

func (e Element) String() string { return fmt.Sprintf("%s %q", e.Key, e.Label) }

// elementJS defines describe(el) -> Element (null for none, the body or
// the document) and interactive() -> the visible, enabled a[href], button,
// input, select and textarea of the document.
const elementJS = `
const describe = (el) => {
	if (!el || el === document.body || el === document.documentElement) return null;
	const tag = (e) => e.tagName.toLowerCase();
	let key;
	if (tag(el) === 'input' && el.type === 'radio' && el.name) {
		key = 'input[type=radio][name=' + JSON.stringify(el.name) + ']';
	} else {
		const steps = [];
		for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
			if (e.id) { steps.unshift(tag(e) + '#' + CSS.escape(e.id)); break; }
			let i = 1;
			for (let s = e.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === e.tagName) i++;
			steps.unshift(tag(e) + ':nth-of-type(' + i + ')');
		}
		key = steps.join(' > ');
	}
	const labels = el.labels ? Array.from(el.labels).map(l => l.textContent) : [];
	const label = (el.getAttribute('aria-label') || labels.join(' ') || el.textContent || el.value || el.name || '').trim().replace(/\s+/g, ' ').slice(0, 80);
	return {key, label};
};
const interactive = () => Array.from(document.querySelectorAll('a[href], button, input, select, textarea')).filter(el => {
	if (el.disabled || (tag => tag === 'input' && el.type === 'hidden')(el.tagName.toLowerCase())) return false;
	if (el.closest('[inert]')) return false;
	if (el.getClientRects().length === 0) return false;
	const st = getComputedStyle(el);
	return st.visibility !== 'hidden' && st.visibility !== 'collapse';
});
`

// Interactive lists the page's interactive elements a person could use:
// visible and enabled a[href], button, input (not hidden), select and
// textarea, in document order, one per radio group.
func (p *Page) Interactive(ctx context.Context) ([]Element, error) {
	els, err := Eval[[]Element](ctx, p, `(() => {`+elementJS+`
		const seen = new Set();
		return interactive().map(describe).filter(d => !seen.has(d.key) && seen.add(d.key));
	})()`)
	if err != nil {
		return nil, fmt.Errorf("browser: interactive elements: %w", err)
	}
	return els, nil
}

// TabOrder presses Tab from wherever focus is until focus comes back to
// the first element it reached (or, on a page that traps focus, gives up
// after twice as many presses as the page has interactive elements), and
// returns the elements focused, in order. On a freshly loaded page the
// order starts at the top of the document.
func (p *Page) TabOrder(ctx context.Context) ([]Element, error) {
	all, err := p.Interactive(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.BringToFront, struct{}{})
		return err
	})); err != nil {
		return nil, fmt.Errorf("browser: bring the page to the front: %w", err)
	}
	var order []Element
	for range 2*len(all) + 10 {
		if err := p.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			return nil, fmt.Errorf("browser: press Tab: %w", err)
		}
		el, err := Eval[*Element](ctx, p, `(() => {`+elementJS+` return describe(document.activeElement); })()`)
		if err != nil {
			return nil, fmt.Errorf("browser: the focused element: %w", err)
		}
		if el == nil {
			continue // the document itself, between the last element and the first
		}
		if len(order) > 0 && el.Key == order[0].Key {
			break
		}
		order = append(order, *el)
	}
	return order, nil
}

// Unreachable returns the page's interactive elements that Tab never
// focuses.
func (p *Page) Unreachable(ctx context.Context) ([]Element, error) {
	all, err := p.Interactive(ctx)
	if err != nil {
		return nil, err
	}
	order, err := p.TabOrder(ctx)
	if err != nil {
		return nil, err
	}
	reached := map[string]bool{}
	for _, e := range order {
		reached[e.Key] = true
	}
	var missed []Element
	for _, e := range all {
		if !reached[e.Key] {
			missed = append(missed, e)
		}
	}
	return missed, nil
}
