package idp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// Page is where Browse ended: the last answer that was no redirect.
type Page struct {
	URL    *url.URL
	Status int
	Body   []byte
}

// Browse plays a person's browser from startURL to the end: it follows
// every redirect (keeping cookies, trusting Dex's CA and extraCA), goes
// straight to connectorID at Dex's authorization endpoint, fills Dex's
// login form with username and password, and returns the first page that
// is neither a redirect nor Dex's login form. A login Dex refuses is
// ErrLoginRefused.
func (d *Dex) Browse(ctx context.Context, startURL string, extraCA []byte, connectorID, username, password string) (*Page, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	tlsConfig := clientTLS(d.CAData)
	tlsConfig.RootCAs.AppendCertsFromPEM(extraCA)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: tlsConfig},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	auth := d.Issuer + "/auth"
	target, method, form, submitted, confirmed := startURL, http.MethodGet, url.Values(nil), false, false
	for range 30 {
		if strings.HasPrefix(target, auth) && !strings.Contains(target, "connector_id=") {
			u, err := url.Parse(target)
			if err != nil {
				return nil, err
			}
			q := u.Query()
			q.Set("connector_id", connectorID) // skip Dex's connector chooser
			u.RawQuery = q.Encode()
			target = u.String()
		}
		p, err := d.do(ctx, client, method, target, form)
		if err != nil {
			return nil, err
		}
		if secs, err := strconv.Atoi(p.retryAfter); err == nil && strings.HasPrefix(p.status, "429") && secs <= 10 && method == http.MethodGet {
			// A login limit of the machine's address (every test logs in
			// from 127.0.0.1): a person would load the page again.
			time.Sleep(time.Duration(secs) * time.Second)
			continue
		}
		method, form = http.MethodGet, nil
		if p.location != "" {
			loc, err := p.url.Parse(p.location)
			if err != nil {
				return nil, err
			}
			target = loc.String()
			continue
		}
		if claim, ok := confirmClaim(p); ok && !confirmed {
			// Drover's page asking the person to go on: its form, posted
			// from the page's origin as a browser posts it.
			confirmed = true
			body := url.Values{"claim": {claim}}.Encode()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url.String(), strings.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", p.url.Scheme+"://"+p.url.Host)
			resp, err := client.Do(req)
			if err != nil {
				return nil, err
			}
			resp.Body.Close()
			loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if resp.StatusCode/100 != 3 || err != nil {
				return nil, fmt.Errorf("idp: Drover's login page answered %s to its own form", resp.Status)
			}
			target, method, form = loc.String(), http.MethodGet, nil
			continue
		}
		if f, err := loginForm(p); err == nil && strings.HasPrefix(p.url.String(), d.Issuer) {
			if submitted {
				return nil, ErrLoginRefused
			}
			f.values.Set("login", username)
			f.values.Set("password", password)
			target, method, form, submitted = f.action, http.MethodPost, f.values, true
			continue
		}
		var status int
		fmt.Sscanf(p.status, "%d", &status)
		return &Page{URL: p.url, Status: status, Body: p.body}, nil
	}
	return nil, errors.New("idp: more than 20 steps in the browser")
}

// confirmClaim finds the claim in Drover's page that asks the person to go
// on with a login of the drover command.
func confirmClaim(p *page) (string, bool) {
	doc, err := html.Parse(strings.NewReader(string(p.body)))
	if err != nil {
		return "", false
	}
	var claim string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") == "claim" {
			claim = attr(n, "value")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return claim, claim != ""
}
