// Package api owns Drover's JSON API under /v3 (see docs/api.md): login and
// logout, users, clusters with their connection state, agent registration
// tokens, user tokens, and kubeconfig generation.
//
// Handlers decode strictly with sigs.k8s.io/json (decode.go: unknown,
// repeated or wrongly capitalised fields, trailing data and oversized bodies
// are refused, naming the JSON field, never a Go type), validate before
// they change anything, and answer errors as metav1.Status
// JSON with a message a person can act on; causes go to the log. A plaintext
// secret leaves this package exactly once, in the response that created it;
// the one exception is a registration generation's node token, which every
// import manifest of the generation carries again: it is derived from the
// cluster token in the manifest's URL, never stored. It must never log a
// secret or put an internal error's text in a response.
package api
