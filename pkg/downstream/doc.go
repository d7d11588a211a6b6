// Package downstream owns the contract between the Drover server and its
// agents about objects inside a downstream cluster: the namespace, the
// ServiceAccount whose token the proxy uses, the impersonation ClusterRole and
// the bindings that give Drover groups their rights there, plus the
// Impersonate-Extra keys the server sets.
//
// Both sides import it so the names cannot drift. It must never hold
// credentials, and must never grant the proxy's ServiceAccount more than
// impersonation.
package downstream
