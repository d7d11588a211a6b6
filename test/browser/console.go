package browser

import (
	"context"
	"fmt"
	"strings"

	"github.com/chromedp/chromedp"
)

// ConsoleLogin signs in to the console at base (the server's URL) through
// #/login with the local provider, as a person does, and waits for the
// clusters page.
func (p *Page) ConsoleLogin(ctx context.Context, base, user, password string) error {
	if err := p.Navigate(ctx, strings.TrimSuffix(base, "/")+"/#/login"); err != nil {
		return err
	}
	if err := p.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#login-username"))); err != nil {
		return fmt.Errorf("login form: %w", err)
	}
	provider, err := Eval[string](ctx, p, `document.querySelector('#login-provider').value`)
	if err != nil || provider != "local" {
		return fmt.Errorf("#login-provider: got %q (%v), want local selected first", provider, err)
	}
	for sel, v := range map[string]string{"#login-username": user, "#login-password": password} {
		if err := p.Fill(ctx, sel, v); err != nil {
			return fmt.Errorf("fill in the login form: %w", err)
		}
	}
	if err := p.Do(ctx, chromedp.Click(chromedp.CSS("#login-submit"))); err != nil {
		return fmt.Errorf("submit the login form: %w", err)
	}
	if err := p.WaitJS(ctx, `location.hash === '#/clusters' && !!document.querySelector('#whoami')`); err != nil {
		msg, _ := Eval[string](ctx, p, `document.querySelector('#login-error')?.textContent ?? ''`)
		return fmt.Errorf("after login: %w (#login-error %q)", err, msg)
	}
	return nil
}
