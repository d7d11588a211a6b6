// Package kubepath derives what a Kubernetes API request is about (verb,
// resource, namespace, name) from its path, query and method, for metrics
// and the audit log.
//
// It must never be used to decide whether a request is allowed: the
// downstream apiserver decides that, from the request itself.
package kubepath
