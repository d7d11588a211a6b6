// Package shell owns the console's shell into a pod: the single-use ticket
// that lets a browser's websocket become one exec, and the filter that
// turns a redeemed ticket into the ordinary proxied exec request.
//
// A browser cannot put a bearer token on a websocket, and the session
// cookie is an ambient credential a foreign page could make the browser
// send (cross-site websocket hijacking, the CVE-2019-13209 class). So a
// shell takes three things together: the session cookie (path /v3, so the
// websocket lives at Path, /v3/clusters/{id}/shell), this server's Origin
// (websession.Check, run by authn.WithSessionAuthentication before the
// cookie is looked up), and a ticket from POST
// /v3/clusters/{id}/shell-tickets, which itself passed the CSRF check.
//
// A ticket is sealed (package seal, purpose "drover/shell-ticket"; every
// replica holds the key) and names the login session and user it was issued
// to, the cluster, the exec target (namespace, pod, container, command) and
// its expiry (TTL, 30 s by default). It is spent once in the store every
// replica shares (SpendSecret), after it was opened and matched, so garbage
// never reaches the database. The websocket carries nothing but the ticket:
// the target comes from inside it, so a page cannot change what was
// approved.
//
// WithShell then readdresses the request (request.Reroute) to
// /k8s/clusters/{id}/api/v1/namespaces/{ns}/pods/{pod}/exec with the
// ticket's command and container, stdin, stdout and tty, moves the session
// from the cookie into an Authorization header and drops the cookie, and
// hands it to the proxy chain. Everything a kubectl exec goes through runs
// again from the start: authentication (a session revoked since the ticket
// was issued is refused), the access check, the relay to the replica
// holding the tunnel, impersonation of the user, and the upgrade handling
// that ends the stream on revocation. The downstream RBAC decides whether
// the user may exec in that pod; Drover adds no permission of its own.
//
// This package must never accept a ticket twice, past its expiry, from
// another session, user or cluster, or without the cookie; never let the
// websocket's query choose the exec target; never log a ticket or a
// session.
package shell
