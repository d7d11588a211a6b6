// Package console tests Drover's web console end to end, as a person uses
// it: Debian's headless Chromium (package test/browser) trusting Drover's
// CA and nothing else, against a real drover-server serving the built
// console (`make console`), a real downstream cluster from the test bed
// and a real cluster agent. The tests find pages and controls by the ids
// of the console's contract and hold every page to the same bar: no
// console error or CSP violation, no polling, keyboard-reachable, no
// serious axe-core violation.
//
// One fixture serves the whole package (started by the first test that
// needs it, stopped by TestMain), so that the package stays within a few
// minutes; each test opens its own pages, each page a browser context of
// its own (its own cookies), so tests never share a session.
//
// The tests skip when Chromium or the built console is missing, unless
// DROVER_REQUIRE_BROWSER is set (make test sets it): then they fail.
package console
