package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	cdpbrowser "github.com/chromedp/cdproto/browser"
)

// onBrowserEvent sees the browser's events (every page's): the downloads.
// Chromium names each file by the download's guid in the directory of the
// browser context that started it, so a download is this page's when its
// file is in this page's directory.
func (p *Page) onBrowserEvent(ev any) {
	switch e := ev.(type) {
	case *cdpbrowser.EventDownloadWillBegin:
		p.mu.Lock()
		p.dlNames[e.GUID] = e.SuggestedFilename
		p.mu.Unlock()
	case *cdpbrowser.EventDownloadProgress:
		var d download
		switch e.State {
		case cdpbrowser.DownloadProgressStateCompleted:
			d.path = filepath.Join(p.downloads, e.GUID)
			if _, err := os.Stat(d.path); err != nil {
				return // another page's
			}
		case cdpbrowser.DownloadProgressStateCanceled:
			d.err = errors.New("the download was canceled")
		default:
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		name, ok := p.dlNames[e.GUID]
		if !ok {
			return // another page's
		}
		p.dlDone[name] = d
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

// WaitDownload waits until a download the page named name (the file name
// it suggested: Content-Disposition, or the download attribute of a link)
// has completed, and returns the path of the file.
func (p *Page) WaitDownload(ctx context.Context, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.b.timeout)
	defer cancel()
	for {
		p.mu.Lock()
		d, ok := p.dlDone[name]
		changed := p.changed
		p.mu.Unlock()
		if ok {
			if d.err != nil {
				return "", fmt.Errorf("browser: download %q: %w", name, d.err)
			}
			return d.path, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("browser: no download %q in %s: %w", name, p.downloads, ctx.Err())
		}
	}
}

// ForgetDownload forgets a completed download of that name, so that a
// later WaitDownload waits for the next one.
func (p *Page) ForgetDownload(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.dlDone, name)
}
