// Package apierr owns what clients see when Drover refuses or fails a
// request: a Kubernetes metav1.Status in JSON, which kubectl and client-go
// print as a readable error.
//
// Each helper pairs a code with one reason, so that call sites never spell
// a reason:
//
//   - 409 has two: AlreadyExists when the thing a create names exists
//     already (a taken name or id), Conflict when the request cannot be
//     done in the current state (a user is disabled, an operation is
//     running, a driver or namespace is in use, the last admin binding).
//     Call sites choose by meaning.
//   - 502 (BadGateway: a cluster reached through its agent, or a cluster
//     driver, failed) has no reason of its own in metav1. It is sent as
//     ServiceUnavailable: like 503, it says that something Drover depends
//     on did not answer and that trying again later may work, and client-go's
//     IsServiceUnavailable is true for it, so callers that retry on that
//     retry here too. InternalError would claim a fault in Drover itself,
//     and client-go reads a bare 5xx as that already.
//
// Messages here are safe to show to anyone who sent the request. Internal
// detail (driver errors, file paths, secrets) must never be put in a Status;
// log it instead and send a generic message.
package apierr
