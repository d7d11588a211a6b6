// Package chain composes Drover's request path in one function
// (NewHandler), as the Kubernetes apiserver's DefaultBuildHandlerChain does:
// every check is a WithX filter owned by the package that owns the rule
// (authn, access, authproxy, audit, request), and the order of the security
// filters is reviewed here, in one list per surface (the proxy, the API).
// pkg/server and every test that needs the request path use this
// composition; none builds its own.
//
// It composes; it must never decide anything itself, and never let a route
// reach a handler without the filters listed for its surface.
package chain
