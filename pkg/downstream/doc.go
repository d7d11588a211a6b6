// Package downstream owns the contract between the Drover server and its
// agents about objects inside a downstream cluster: the namespace, the
// controller's ServiceAccount and its rules, the impersonation accounts'
// names and rules (one identity each, by resourceNames), the bindings that
// give Drover groups their rights there, the objects of earlier versions to
// delete, and the Impersonate-Extra keys the server sets.
//
// Both sides import it so the names cannot drift. It must never hold
// credentials, and must never write an account's rules that let it act as
// more than its one identity.
package downstream
