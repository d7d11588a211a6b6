// Package console owns how drover-server serves its web console: the
// assets built from web/console by `make console`, embedded in the binary
// (go:embed of dist/), at / (index.html) and /assets/, with the headers
// that confine the page: a strict Content-Security-Policy (scripts,
// styles and connections from this origin only, no inline script, no
// framing), nosniff, no referrer. Hashed assets are cached for a year;
// index.html never.
//
// The one exception to "no inline style" is a per-response nonce. The
// pod shell's terminal (xterm.js) creates <style> elements at run time,
// which style-src 'self' alone blocks. So each index.html response gets
// 16 fresh bytes from crypto/rand (standard base64, its alphabet checked
// before use, as it goes into a header and an attribute unescaped): its
// policy is ContentSecurityPolicy with 'nonce-<n>' added to style-src and
// nothing else changed (IndexPolicy), and the page carries
// <meta name="drover-style-nonce" content="<n>"> before </head>, from
// which the console's script marks the <style> elements xterm creates,
// and only those, around the calls that create them. The nonce admits
// <style> elements only: style attributes stay blocked ('unsafe-hashes'
// and 'unsafe-inline' are never used), and scripts get no nonce at all.
// A nonce no other response shares is worth nothing to someone who reads
// it later, and index.html is never cached. Assets keep the plain
// policy; an index.html without </head> (not one Vite writes) is served
// as it is, under the plain policy. Without a fresh nonce (crypto/rand
// failing) the page is not served at all.
//
// The console is a client of the same /v3 API as everyone else (package
// api; its session cookie is package websession's). This package must
// never serve anything but the embedded files, never read the request's
// credentials, and never load or point to anything from another origin.
// Without a built console (a fresh clone, only dist/.placeholder) it
// serves a page saying how to build it.
package console
