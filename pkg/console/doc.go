// Package console owns how drover-server serves its web console: the
// assets built from web/console by `make console`, embedded in the binary
// (go:embed of dist/), at / (index.html) and /assets/, with the headers
// that confine the page: a strict Content-Security-Policy (scripts,
// styles and connections from this origin only, no inline script, no
// framing), nosniff, no referrer. Hashed assets are cached for a year;
// index.html never.
//
// The console is a client of the same /v3 API as everyone else (package
// api; its session cookie is package websession's). This package must
// never serve anything but the embedded files, never read the request's
// credentials, and never load or point to anything from another origin.
// Without a built console (a fresh clone, only dist/.placeholder) it
// serves a page saying how to build it.
package console
