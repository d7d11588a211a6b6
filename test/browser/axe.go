package browser

import (
	"context"
	"fmt"
	"os"
	"slices"
)

// Violation is one axe-core rule a page breaks, with the elements that
// break it.
type Violation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	HelpURL string   `json:"helpUrl"`
	Targets []string `json:"targets"` // CSS selectors of the offending elements
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s %v", v.ID, v.Impact, v.Help, v.Targets)
}

// axeRun runs every rule axe-core has enabled by default (none is turned
// off here) on the whole document and keeps the violations.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
	targets: v.nodes.map(n => n.target.join(' ')),
})))`

// axeSource reads axe-core once per browser.
func (b *Browser) axeSource() (string, error) {
	b.axeOnce.Do(func() {
		src, err := os.ReadFile(b.opts.AxePath)
		if err != nil {
			b.axeErr = fmt.Errorf("browser: axe-core: %w: run `make console` (it installs axe-core with the console's dependencies)", err)
			return
		}
		b.axeSrc = string(src)
	})
	return b.axeSrc, b.axeErr
}

// Axe runs axe-core in the page as it is now and returns the violations of
// impact critical or serious. It injects axe-core through the DevTools
// protocol, which the page's Content-Security-Policy does not govern.
func (p *Page) Axe(ctx context.Context) ([]Violation, error) {
	src, err := p.b.axeSource()
	if err != nil {
		return nil, err
	}
	loaded, err := Eval[bool](ctx, p, `typeof axe === 'object'`)
	if err != nil {
		return nil, fmt.Errorf("browser: axe: %w", err)
	}
	if !loaded {
		if _, err := Eval[[]byte](ctx, p, src+"\n;true"); err != nil {
			return nil, fmt.Errorf("browser: load axe-core: %w", err)
		}
	}
	all, err := Eval[[]Violation](ctx, p, axeRun)
	if err != nil {
		return nil, fmt.Errorf("browser: axe: %w", err)
	}
	return slices.DeleteFunc(all, func(v Violation) bool {
		return v.Impact != "critical" && v.Impact != "serious"
	}), nil
}
