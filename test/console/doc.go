// Package console tests Drover's web console end to end, as a person uses
// it: Debian's headless Chromium (package test/browser) trusting Drover's
// CA, against a real drover-server serving the built console (`make
// console`), real downstream clusters from the test bed, real agents, the
// machine's own kubectl, and the real slapd and Dex of package test/idp.
// The tests find pages and controls by the ids of the console's contract
// and hold every page to the same bar: no console error or CSP violation,
// no polling, keyboard-reachable, no serious axe-core violation.
//
// What they cover: logging in and out (local, LDAP, OIDC through Dex's own
// pages); importing a cluster with the command the page shows and seeing
// it turn active by push (the latency is logged); kubeconfig downloads
// used by kubectl; users and bindings made in #/access and what they allow
// downstream, a revocation reaching the other user's page by push; tokens
// shown once and revoked in the page; server values shown as text; the
// audit page; CSRF from the page itself and from other sites; axe-core,
// Tab and a screenshot of every page (into $DROVER_SCREENSHOTS_DIR when
// set); rotating a cluster's registration token (the old import URL
// refused, the new one served; with an agent connected, the new token in
// its Secret); projects and project bindings made and revoked in
// #/access, with what they allow through kubectl; installing the local
// driver (cmd/driver-local) in #/drivers and provisioning a real cluster
// from the form its schema generates, its progress followed by push until
// it is active, then removed. Bad input in these forms must get its
// message next to the field: the page's own checks send nothing, and what
// only the API refuses is shown there too.
//
// One fixture serves the whole package (started by the first test that
// needs it, stopped by TestMain), so that the package stays within a few
// minutes: the test-bed cluster with its agent, a second, empty test-bed
// cluster that TestImport imports (two Drover clusters must not share an
// apiserver: each one's controller owns the Drover-labelled RBAC it
// finds), the server, the browser, and the admin's page, logged in once
// and shared by the tests that act as the admin (the server allows ten
// password logins a minute per user and address). Any other page is a
// browser context of its own (its own cookies): two pages are two people.
//
// The tests skip when Chromium or the built console is missing, unless
// DROVER_REQUIRE_BROWSER is set (make test sets it): then they fail. The
// LDAP and OIDC tests need `make idp` (slapd and Dex) and fail without.
package console
