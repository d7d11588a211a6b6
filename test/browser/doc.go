// Package browser drives Debian's headless Chromium (`make browser-tools`)
// for end-to-end tests of pages Drover serves, the console first: a test
// starts one Browser, opens a Page per flow, and asserts on what a person
// would see and on what the page did behind their back.
//
// Trust is real. Each Browser gets a fresh HOME whose NSS database
// ($HOME/.pki/nssdb, made with certutil) holds exactly the CA certificates
// the test gives, as trusted issuers of server certificates, and a fresh
// profile (--user-data-dir). Certificate errors are never ignored: a page
// served under a CA the test did not give fails to load. Chromium's own
// built-in roots stay, but nothing here reaches a non-loopback address.
//
// What a Page records from the moment its tab exists, through CDP events:
//   - every request, counted by URL path and logged with its method,
//     resource type and document, so a test can assert that a page does not
//     poll (and tell a create from a read, and one document's requests from
//     those the previous one sent as it went away);
//   - problems: console.error calls, uncaught exceptions, and the browser's
//     own error-level log entries (Content-Security-Policy violations among
//     them). Failed responses (a 401 before login) are logged by Chromium
//     with source "network"; they are kept apart, as NetworkErrors, because
//     an expected 401 is not a fault of the page. PageT fails the test on
//     any problem;
//   - downloads, into a directory of its own (Browser.setDownloadBehavior
//     per browser context), which WaitDownload waits for by file name.
//
// And what it checks on demand: axe-core (read from the console's
// node_modules, see AxePath) run in the page, reporting the critical and
// serious violations with every rule enabled; keyboard reachability, by
// pressing Tab and collecting the focused elements; a PNG screenshot, of
// the viewport or of the whole page.
//
// Each Page lives in a browser context of its own, so pages share no
// cookies or storage: two pages are two people.
//
// It must never wait without a bound: every call takes a context and is
// also capped by DefaultTimeout. It must never leave a browser behind:
// Close stops Chromium and every process it started, and the process dies
// with the test binary (Pdeathsig) if the test never gets to Close.
package browser
