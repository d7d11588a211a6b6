package request

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// RequestInfo is what a Kubernetes API path and method say about a request,
// for metrics and audit. It is derived from the request, never trusted for
// authorization: the downstream apiserver decides that.
type RequestInfo struct {
	IsResource  bool   // false for /version, /healthz and the like
	Verb        string // get, list, watch, create, update, patch, delete, deletecollection; or MethodVerb's answer
	APIGroup    string
	APIVersion  string
	Namespace   string
	Resource    string // e.g. "pods"
	Subresource string
	Name        string
}

// maxInfoSegments bounds the work on hostile paths.
const maxInfoSegments = 16

// ParseRequestInfo derives RequestInfo from a downstream path (already
// stripped of /k8s/clusters/{id}), its query and method.
func ParseRequestInfo(method, path string, query url.Values) RequestInfo {
	info := RequestInfo{Verb: MethodVerb(method)}
	parts := splitSegments(path)
	if len(parts) == 0 {
		return info
	}
	switch {
	case parts[0] == "api" && len(parts) >= 2 && parts[1] != "":
		info.APIVersion, parts = parts[1], parts[2:]
	case parts[0] == "apis" && len(parts) >= 3 && parts[1] != "" && parts[2] != "":
		info.APIGroup, info.APIVersion, parts = parts[1], parts[2], parts[3:]
	default:
		return info
	}
	if len(parts) == 0 {
		return info // discovery
	}
	if slices.Contains(parts, "") {
		return info // an empty segment names no resource (the apiserver answers 404)
	}
	info.IsResource = true
	watch := false
	if parts[0] == "watch" { // the legacy /watch/ prefix
		watch, parts = true, parts[1:]
	}
	// /namespaces/{ns}/{resource}... is namespaced; /namespaces/{ns} is the
	// namespace object itself.
	if len(parts) >= 3 && parts[0] == "namespaces" {
		info.Namespace, parts = parts[1], parts[2:]
	}
	if len(parts) > 0 {
		info.Resource = parts[0]
	}
	if len(parts) > 1 {
		info.Name = parts[1]
	}
	if len(parts) > 2 {
		info.Subresource = strings.Join(parts[2:], "/")
	}
	if v := query.Get("watch"); v == "true" || v == "1" {
		watch = true
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch:
			info.Verb = "watch"
		case info.Name == "":
			info.Verb = "list"
		case method == http.MethodGet && info.Resource == "pods" && streamSubresource(info.Subresource):
			// A websocket exec, attach or port-forward is a GET that the
			// apiserver authorizes as create (since Kubernetes 1.30), as
			// it does the same call over SPDY (a POST).
			info.Verb = "create"
		default:
			info.Verb = "get"
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		if info.Name == "" {
			info.Verb = "deletecollection"
		} else {
			info.Verb = "delete"
		}
	}
	return info
}

func splitSegments(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	parts := strings.SplitN(path, "/", maxInfoSegments+1)
	if len(parts) > maxInfoSegments {
		parts = parts[:maxInfoSegments]
	}
	for i, s := range parts {
		parts[i] = redactSegment(s)
	}
	return parts
}

// MethodVerb is the verb of a request that names no resource: the lower-case
// method for the methods HTTP defines, "other" for anything else. The set
// is fixed, so a client cannot grow a metric's label set or the audit
// log's vocabulary by making up methods.
func MethodVerb(method string) string {
	switch method {
	case http.MethodGet:
		return "get"
	case http.MethodHead:
		return "head"
	case http.MethodPost:
		return "post"
	case http.MethodPut:
		return "put"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	case http.MethodOptions:
		return "options"
	case http.MethodConnect:
		return "connect"
	case http.MethodTrace:
		return "trace"
	}
	return "other"
}

// streamSubresource reports whether a pod subresource opens a stream into
// the pod.
func streamSubresource(s string) bool {
	return s == "exec" || s == "attach" || s == "portforward"
}
