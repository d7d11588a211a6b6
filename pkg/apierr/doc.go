// Package apierr owns what clients see when Drover refuses or fails a
// request: a Kubernetes metav1.Status in JSON, which kubectl and client-go
// print as a readable error.
//
// Messages here are safe to show to anyone who sent the request. Internal
// detail (driver errors, file paths, secrets) must never be put in a Status;
// log it instead and send a generic message.
package apierr
